"""runc's refusals that name no setting of the service (harness.runtime.runc_refusals): the hint lists the settings
runc applies, with their values and the engine's hard limits beside its ulimits (t23f: elasticsearch's memlock -1,
a hardened service's oom_score_adj -500 and nofile above dockerd's)."""

from __future__ import annotations

from harness.model.service import ServiceSpec
from harness.runtime.runc_refusals import is_runc_refusal, runc_hint

RLIMIT = ("failed to create shim task: oci runtime create failed: runc create failed: unable to start container "
          "process: error during container init: error setting rlimits for ready process: error setting rlimit type 8: "
          "operation not permitted: unknown")
FINAL_CHILD = ("failed to create shim task: oci runtime create failed: runc create failed: unable to start container "
               "process: can't get final child's pid from pipe: eof: unknown")


def test_runcs_rlimit_number_is_named_and_each_ulimit_is_set_beside_the_engines() -> None:
    spec = ServiceSpec(image="x", ulimits={"memlock": {"soft": -1, "hard": -1}, "nofile": 65536})
    assert is_runc_refusal(RLIMIT)
    assert runc_hint(RLIMIT, "es", spec, {"memlock": "8388608", "nofile": "1048576"}) == (
        "runc's \"rlimit type 8\" is the `memlock` ulimit. runc's message names no setting; those of service 'es' "
        "that runc applies and can refuse: ulimits.memlock -1:-1 (above the engine's dockerd's hard 8388608); "
        "ulimits.nofile 65536:65536 (within the engine's dockerd's hard 1048576). A hard ulimit above the engine's own "
        "(memlock -1, nofile), a negative oom_score_adj or a sysctl its kernel or a rootless or nested engine does not "
        "allow fails the same way under `docker compose up`: lower or remove them one at a time (in an override file "
        "for tests).")


def test_a_refusal_naming_nothing_lists_oom_score_adj_sysctls_and_the_rest_with_their_values() -> None:
    spec = ServiceSpec(image="x", oom_score_adj=-500, sysctls={"net.core.somaxconn": "1024"}, pids_limit=100,
                       security_opt=["no-new-privileges:true"], ulimits={"nofile": {"soft": 20000, "hard": 40000}})
    hint = runc_hint(FINAL_CHILD, "api", spec)  # a remote engine: its limits unknown
    assert hint.startswith("runc's message names no setting; those of service 'api' that runc applies and can refuse: "
                           "ulimits.nofile 20000:40000; oom_score_adj -500; sysctls net.core.somaxconn=1024; pids_limit "
                           "100; security_opt no-new-privileges:true. "), hint


def test_a_service_without_such_settings_is_told_so_and_other_refusals_are_not_runcs() -> None:
    assert runc_hint(FINAL_CHILD, "api", ServiceSpec(image="x")) == (
        "runc's message names no setting, and service 'api' has none of those it usually refuses (ulimits, "
        "oom_score_adj, sysctls); check the engine's runtime and kernel.")
    assert not is_runc_refusal("bind for 127.0.0.1:8000 failed: port is already allocated")
