"""Topologies built in Python: started as a context manager, and as module-scoped fixtures next to --topology."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis

from harness import DockerError, Topology, UnknownService, ready, topology

from .conftest import harness_resources


def test_a_built_topology_starts_answers_and_is_removed_at_the_end_of_the_block(docker_client) -> None:  # noqa: ANN001
    shop = (topology("py-shop", base_dir=Path(__file__).parent)
            .service("redis", image="redis:7", ports=[6379], ready=ready.log("Ready to accept connections"))
            .service("cache", image="redis:7", ports=[6379], depends_on=["redis"], ready=ready.tcp(6379)))
    with shop.start() as running:
        assert isinstance(running, Topology)
        assert redis.Redis(port=running["cache"].port(6379)).ping()
        with pytest.raises(UnknownService) as missing:
            running["cahce"]
        assert str(missing.value) == "no service 'cahce' in topology 'py-shop' (did you mean 'cache'?); " \
                                     "services: redis, cache"
        assert isinstance(missing.value, KeyError)  # still what a dict lookup raises
    assert harness_resources(docker_client, "py-shop") == []


def test_two_modules_each_get_their_own_topology_beside_the_session_one(pytester: pytest.Pytester,
                                                                         docker_client) -> None:  # noqa: ANN001
    pytester.makeconftest("""
        import harness.pytest
        from harness import ready, topology

        def redis_topology(name):
            return topology(name).service("redis", image="redis:7", ports=[6379], ready=ready.tcp(6379))

        first_topology = harness.pytest.topology_fixture(redis_topology("py-first"), scope="module")
        second_topology = harness.pytest.topology_fixture(redis_topology("py-second"), scope="module")
    """)
    probe = """
        import docker, redis

        def running_topologies():
            client = docker.from_env()
            return sorted({c.labels["org.pytest-topology.topology"] for c in client.containers.list(
                filters={"label": "org.pytest-topology.topology"}) if c.labels["org.pytest-topology.topology"]
                in ("py-first", "py-second")})

        def test_mine_is_up_and_alone({fixture}):
            assert redis.Redis(port={fixture}["redis"].port(6379)).ping()
            assert {fixture}.spec.name == "{name}"
            assert running_topologies() == ["{name}"]   # the other module's is not running now
    """
    pytester.makepyfile(test_a_first=probe.replace("{fixture}", "first_topology").replace("{name}", "py-first"),
                        test_b_second=probe.replace("{fixture}", "second_topology").replace("{name}", "py-second"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert harness_resources(docker_client, "py-first") == harness_resources(docker_client, "py-second") == []


def test_a_module_topology_that_cannot_start_is_an_error_of_its_tests(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import harness.pytest
        from harness import topology

        broken_topology = harness.pytest.topology_fixture(
            topology("py-broken").service("web", image="redis:7", command=["/no/such/program"]), scope="module")
    """)
    pytester.makepyfile("def test_uses_it(broken_topology): pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert "service 'web': Docker could not create or start its container" in output
    assert "/no/such/program" in output
    assert "Traceback" not in output


def test_a_failing_pre_stop_hook_is_an_error_of_the_fixtures_teardown_and_nothing_is_left(
        pytester: pytest.Pytester, docker_client) -> None:  # noqa: ANN001
    pytester.makeconftest("""
        import harness.pytest
        from harness import topology

        hooked_topology = harness.pytest.topology_fixture(topology("py-prestop").service(
            "web", image="redis:7", command=["sleep", "infinity"], stop_grace_period=30,
            pre_stop=[{"command": "echo saving; exit 6", "user": "999"}]))
    """)
    pytester.makepyfile("def test_uses_it(hooked_topology):\n    assert hooked_topology['web'].status == 'running'\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)  # the error: the test's teardown
    output = result.stdout.str()
    assert "service 'web': its pre_stop hook ['/bin/sh', '-c', 'echo saving; exit 6'] exited with 6:" in output
    assert "Traceback" not in output
    assert harness_resources(docker_client, "py-prestop") == []


def test_a_container_docker_refuses_to_start_is_a_docker_error_with_exit_code_3(tmp_path: Path,
                                                                                 docker_client) -> None:  # noqa: ANN001
    with pytest.raises(DockerError) as error:
        topology("py-refused", base_dir=tmp_path).service("web", image="redis:7", command=["/no/such/program"]).start()
    assert error.value.service == "web" and error.value.exit_code == 3
    assert "Check the service's image, entrypoint and command" in str(error.value)
    assert harness_resources(docker_client, "py-refused") == []
    file = tmp_path / "topology.yaml"
    file.write_text("name: py-refused-cli\nservices:\n  web:\n    image: redis:7\n    command: [/no/such/program]\n")
    harness = Path(sys.executable).parent / "harness"
    result = subprocess.run([str(harness), "up", str(file), "--detach"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 3
    assert "error: service 'web': Docker could not create or start its container" in result.stderr
    assert "Traceback" not in result.stderr
    assert harness_resources(docker_client, "py-refused-cli") == []


def test_a_fixture_topology_takes_the_sessions_image_substitutes_and_says_keep_does_not_apply(
        pytester: pytest.Pytester, docker_client) -> None:  # noqa: ANN001
    pytester.makeini("[pytest]\nimage_substitutes =\n    apifix-missing-a:1=redis:7\n")
    pytester.makeconftest("""
        import harness.pytest
        from harness import ready, topology

        base = topology("py-subst").service("a", image="apifix-missing-a:1", ports=[6379], ready=ready.tcp(6379))
        subst_topology = harness.pytest.topology_fixture(
            base.service("b", image="apifix-missing-b:1", ports=[6379], ready=ready.tcp(6379)))
        other_topology = harness.pytest.topology_fixture(base.service("c", image="redis:7"))  # base is unchanged
    """)
    pytester.makepyfile("""
        def test_both_substituted(subst_topology):
            assert sorted(service.name for service in subst_topology) == ["a", "b"]
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s", "--topology-keep",
                                           "--image-substitute", "apifix-missing-b:1=redis:7")
    result.assert_outcomes(passed=1)
    result.stderr.fnmatch_lines(["--topology-keep: for the topology of --topology only, not fixture "
                                 "'subst_topology' (its run is removed at the end of its scope)"])
    assert harness_resources(docker_client, "py-subst") == []


def test_a_fixture_given_no_topology_names_itself_once(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("""
        import harness.pytest

        odd_topology = harness.pytest.topology_fixture({"services": {}})  # type: ignore[arg-type]
    """)
    pytester.makepyfile("def test_uses_it(odd_topology): pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    report = output.split("short test summary info")[0]  # the summary line repeats it, as for any error
    assert report.count("fixture 'odd_topology': a topology is a file path, a harness.topology(...) builder or a "
                        "TopologySpec, not dict") == 1
    assert "During handling" not in output and "Traceback" not in output


def test_topology_start_takes_a_builder_and_a_file_path(tmp_path: Path, docker_client,  # noqa: ANN001
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    builder = topology("py-startb", base_dir=tmp_path).service("redis", image="redis:7", ports=[6379],
                                                               ready=ready.tcp(6379))
    with Topology.start(builder) as running:
        assert redis.Redis(port=running["redis"].port(6379)).ping()
    (tmp_path / "topology.yaml").write_text("name: py-startf\nservices:\n  redis:\n    image: redis:7\n")
    monkeypatch.chdir(tmp_path)
    with Topology.start("topology.yaml") as running:  # relative to the current folder, as load_topology reads it
        assert [service.name for service in running] == ["redis"]
    assert harness_resources(docker_client, "py-startb") == harness_resources(docker_client, "py-startf") == []


def test_a_fixture_of_a_compose_file_prints_its_notes(pytester: pytest.Pytester, docker_client) -> None:  # noqa: ANN001
    pytester.makefile(".yaml", compose="""
        name: py-notes
        services:
          a:
            image: redis:7
            networks:
              default:
                aliases: [b]
          b:
            image: redis:7
    """)
    pytester.makeconftest("""
        import harness.pytest

        notes_topology = harness.pytest.topology_fixture("compose.yaml")
    """)
    pytester.makepyfile("def test_up(notes_topology): assert notes_topology['b'].status == 'running'\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=1)
    result.stderr.fnmatch_lines(["note: services.a.aliases[0]: alias 'b' is the name of service 'b': Docker Compose "
                                 "accepts this, but the name reaches either container"])
    assert harness_resources(docker_client, "py-notes") == []
