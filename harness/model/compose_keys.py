"""Every key of the Compose specification, by where it is (a service, its `deploy:`, its `build:`, a top-level
network, volume, secret or config, the file itself), in one of three tables:

- HONOURED: given to Docker as Docker Compose gives it (the same create/start option), or resolved by Compose's
  `config` before the harness reads the file;
- IGNORED: no effect on what a test sees; one note per key and run, with the reason;
- REFUSED: what a test run cannot do as Compose does it; one error names every such key of a file, with Compose's
  behaviour beside the reason.

tests/unit/model/test_compose_keys.py reads a copy of the specification's key list and fails on a key missing here.
"""

from __future__ import annotations

RESOLVED = "resolved by Docker Compose (`config`) before the harness reads the file"
PER_RUN_NETWORK = "each run names its own networks (services reach each other by service name and aliases)"
SWARM = "a swarm setting: Docker Compose ignores it too when it starts containers"
BY_COMPOSE = ("built by Docker Compose itself (`docker compose build`, which speaks BuildKit to the engine; "
              "docker-py's classic builder has no such setting): ")

HONOURED: dict[str, dict[str, str]] = {
    "service": {
        "image": "the image", "build": "built as Compose builds it (see build's keys)",
        "pull_policy": "as Compose pulls: always (at each start of a run; a kept run used as it is is not pulled "
                       "again), never (a missing image fails, as Compose's `No such image`), missing/if_not_present, "
                       "daily/weekly/`every_<duration>` (by the image's LastTagTime); build: no pull, and the image is "
                       "built as every `build:` is (from a content tag: Compose runs the build at each `up`)",
        "command": "Cmd (`[]` or \"\": the image's CMD)", "entrypoint": "Entrypoint (`[]` or \"\": none, the image's "
        "ENTRYPOINT does not run)", "tty": "Tty (a terminal, as `docker run -t`: the log is one stream, stdout)",
        "stdin_open": "OpenStdin (as `docker run -i`; nothing is attached to it, as under `up --detach`)",
        "working_dir": "WorkingDir", "user": "User",
        "environment": "Env", "env_file": RESOLVED + " (into Env)", "label_file": RESOLVED + " (into Labels)",
        "extends": RESOLVED, "profiles": RESOLVED + " (--profile)", "labels": "Labels, beside the harness's own",
        "tmpfs": "HostConfig.Tmpfs", "init": "HostConfig.Init", "volumes": "binds, volumes (created per run), tmpfs, "
        "images (`type: image`: Docker 28, refused on an older engine with Compose's words)",
        "use_api_socket": "the engine's socket (/var/run/docker.sock of the engine's machine) and the user's registry "
                          "credentials (/run/secrets/docker/config.json, DOCKER_CONFIG), as Compose gives them",
        "cap_add": "HostConfig.CapAdd", "cap_drop": "HostConfig.CapDrop", "privileged": "HostConfig.Privileged",
        "extra_hosts": "HostConfig.ExtraHosts", "hostname": "Hostname", "domainname": "Domainname",
        "shm_size": "HostConfig.ShmSize", "ulimits": "HostConfig.Ulimits", "sysctls": "HostConfig.Sysctls",
        "stop_signal": "StopSignal", "platform": "the image's platform", "healthcheck": "Healthcheck, and the "
        "readiness probe (start_interval before Docker 25 refused, as Compose refuses it); timings without `test`: "
        "the image's HEALTHCHECK test with them, as Docker merges them",
        "ports": "published on free ports of 127.0.0.1 (the test reads them from the topology); tcp, udp and sctp "
                 "(an engine without SCTP refuses to start the container, as for Compose)",
        "expose": "ExposedPorts, and published (SCTP ones neither: noted)",
        "networks": "the networks it is on, with aliases, fixed addresses, priority, "
        "link_local_ips, driver_opts, gw_priority and interface_name (before Docker 28.1 refused, as Compose refuses "
        "it); a file without `networks:` keeps one private network per run", "depends_on": "the start order "
        "and conditions", "container_name": "an alias on the run's network (the container's name is the run's)",
        "secrets": "bind-mounted or copied in, as Compose does", "configs": "bind-mounted or copied in, as Compose "
        "does", "dns": "HostConfig.Dns", "dns_search": "HostConfig.DnsSearch", "dns_opt": "HostConfig.DnsOptions",
        "security_opt": "HostConfig.SecurityOpt", "read_only": "HostConfig.ReadonlyRootfs",
        "group_add": "HostConfig.GroupAdd", "devices": "HostConfig.Devices",
        "device_cgroup_rules": "HostConfig.DeviceCgroupRules", "gpus": "HostConfig.DeviceRequests",
        "runtime": "HostConfig.Runtime", "ipc": "HostConfig.IpcMode", "pid": "HostConfig.PidMode",
        "uts": "HostConfig.UTSMode", "cgroup": "HostConfig.CgroupnsMode", "userns_mode": "HostConfig.UsernsMode",
        "cgroup_parent": "HostConfig.CgroupParent", "isolation": "HostConfig.Isolation",
        "mac_address": "MacAddress", "storage_opt": "HostConfig.StorageOpt",
        "blkio_config": "HostConfig.BlkioWeight, BlkioWeightDevice, BlkioDevice{Read,Write}{Bps,IOps}",
        "mem_limit": "HostConfig.Memory", "memswap_limit": "HostConfig.MemorySwap",
        "mem_reservation": "HostConfig.MemoryReservation", "mem_swappiness": "HostConfig.MemorySwappiness",
        "oom_kill_disable": "HostConfig.OomKillDisable", "oom_score_adj": "HostConfig.OomScoreAdj",
        "cpus": "HostConfig.NanoCpus", "cpu_shares": "HostConfig.CpuShares", "cpu_period": "HostConfig.CpuPeriod",
        "cpu_quota": "HostConfig.CpuQuota", "cpu_rt_period": "HostConfig.CpuRealtimePeriod",
        "cpu_rt_runtime": "HostConfig.CpuRealtimeRuntime", "cpu_count": "HostConfig.CpuCount",
        "cpu_percent": "HostConfig.CpuPercent", "cpuset": "HostConfig.CpusetCpus",
        "pids_limit": "HostConfig.PidsLimit", "deploy": "its resources (see deploy's keys)",
        "links": "an alias of the linked service for this container only (its network endpoint's links)",
        "external_links": "Links of each of its network endpoints, as Compose gives them: the container outside the "
                          "run is resolved where it shares a network (an external one); a missing one is no error, "
                          "as under Compose",
        "volumes_from": "HostConfig.VolumesFrom: a service of the run (its container), or `container:NAME` (a "
                        "container outside the run, by the NAME given; a missing one fails the start with Docker's "
                        "words, as under Compose); `:ro`/`:rw` are not applied, as Compose does not apply them",
        "network_mode": "HostConfig.NetworkMode, as Compose gives it: `none`; `host` (the engine machine's network: "
                        "no port published, its ports are the machine's, reached on the engine's host; no service "
                        "reaches it by name); `service:X` (X of the run) and `container:NAME` (a container outside "
                        "the run): its network namespace, no ports of its own; another value: the engine's network "
                        "of that name, used as it is (the run's own for the name Compose gives a network of the "
                        "file, not for a network's key that is named otherwise); a missing container or network "
                        "fails the start with Docker's words, as under Compose",
        "post_start": "each hook run in the container after each start (as `docker exec`): up, start(), "
                      "restart(), restore, before readiness",
        "pre_stop": "each hook run in the container (as `docker exec`) before stop(), restart() and teardown "
                    "(`harness down`, the end of a session); a teardown removes every container even when a hook "
                    "fails, then reports it",
        "stop_grace_period": "the time each pre_stop hook is given (default 10 s, Compose's); the container "
                             "itself is then removed at once (force), where Compose waits this long for it to stop "
                             "(its StopTimeout is left unset)",
        "scale": "that many containers (0: none), each on the service's networks under its name, as Compose "
                 "starts them (see Replicas in the compose guide)",
    },
    "deploy": {
        "resources": "limits.cpus -> NanoCpus, limits.memory -> Memory, limits.pids -> PidsLimit, "
                     "reservations.memory -> MemoryReservation, reservations.devices -> DeviceRequests (as Compose; "
                     "reservations.cpus and generic_resources are not Docker settings, Compose drops them too)",
        "replicas": "as the service's `scale` (the same count, which Compose checks)",
    },
    "build": {
        "context": "the folder sent to the builder; a URL (Git, a tarball over HTTP) is built by Docker Compose "
                   "itself (`docker compose build`: the engine's builder fetches it, as under `docker compose up`), "
                   "tagged by the URL and the build's keys: kept by its URL, not its content",
        "dockerfile": "the Dockerfile, relative to the context", "dockerfile_inline": "the Dockerfile's text, sent "
        "beside the context (.dockerignore applies as for a Dockerfile file); a change rebuilds",
        "args": "build args", "target": "the stage built", "labels": "the image's labels, beside the harness's own",
        "extra_hosts": "hosts of RUN steps", "network": "`default`, `host` or `none` for RUN steps",
"isolation": "the builder's isolation", "no_cache": "a build (when the "
        "content tag is missing, as `docker compose up` builds a missing image) uses no cache",
        "pull": "the FROM images are pulled before the build", "tags": "more names of the built image (a service "
        "with such an `image:` runs it, never pulls it)", "platforms": "one platform: the image's",
        "ssh": BY_COMPOSE + "the SSH agent or keys for `RUN --mount=type=ssh`",
        "secrets": BY_COMPOSE + "the secrets for `RUN --mount=type=secret` (a changed secret does not rebuild, as "
        "for `docker compose up`)",
        "additional_contexts": BY_COMPOSE + "named contexts (a change of a folder's files rebuilds); an engine whose "
        "BuildKit has no named contexts (Docker 20.10, measured) fails the build as for Compose",
        "privileged": BY_COMPOSE + "the `security.insecure` entitlement, which the engine must allow (as for Compose)",
        "entitlements": BY_COMPOSE + "entitlements the engine must allow (as for Compose)",
        "shm_size": BY_COMPOSE + "/dev/shm of RUN steps, as far as the engine's BuildKit applies it (Docker 20.10's "
        "does not, measured, as for Compose; its classic builder would)",
        "ulimits": BY_COMPOSE + "limits of RUN steps, as far as the engine's BuildKit applies them (Docker 20.10's "
        "does not: measured, as for Compose)",
    },
    "network": {"driver": "Driver, as given (bridge, macvlan, ipvlan, overlay on a swarm manager, ...): an engine "
                "without it fails as for Compose; Docker publishes no port of a container only on macvlan/ipvlan "
                "networks (it has no URL, as under Compose)",
                "driver_opts": "the driver's options", "internal": "Internal (Docker publishes no port of a container "
                "only on internal networks)", "enable_ipv6": "EnableIPv6", "ipam": "IPAM driver (the engine has it or "
                "fails as for Compose), subnets, gateway, ip_range, aux_addresses; `options` are not applied, as "
                "Docker Compose v2.40 does not apply them (its `config` leaves them out), with a note",
                "labels": "Labels, beside the harness's own",
                "attachable": "Attachable (an overlay network needs it for a run's containers, as under Compose)",
                "external": "used as it is, never removed (a missing one is an error, as for Compose)"},
    "volume": {"name": "the run names its volumes itself (Compose prefixes them with the project's name); an "
               "external volume's name on the engine",
               "external": "mounted as it is, with its data, never created or removed (a missing one is an error, "
                           "as for Compose); runs of the file at once share it, as Compose projects do",
               "driver": "the volume's driver, as Compose creates it", "driver_opts": "the driver's options",
               "labels": "Labels, beside the harness's own (a kept run's volume whose labels the file changes is kept "
                         "as it is, with a note, as Compose keeps it without a terminal)"},
    "secret": {"file": "bind-mounted read-only", "environment": "copied in", "content": "copied in",
               "name": "no effect on a file mounted or copied in (Compose's neither)"},
    "config": {"file": "bind-mounted read-only", "environment": "copied in", "content": "copied in",
               "name": "no effect on a file mounted or copied in (Compose's neither)"},
    "file": {"name": "the topology's name", "services": "the services",
             "networks": "one Docker network per network and run, removed with it (external ones used as they are)",
             "volumes": "created per run, removed with it",
             "secrets": "the secrets' sources", "configs": "the configs' sources", "include": RESOLVED,
             "version": "obsolete: Docker Compose ignores it"},
}

IGNORED: dict[str, dict[str, str]] = {
    "service": {
        "restart": "containers live only for the run; a service that stops is reported, not restarted",
        "logging": "logs are read through the Docker API, from the engine's default log driver",
        "attach": "only decides whose logs `docker compose up` prints", "develop": "only read by `docker compose "
        "watch`",
        "annotations": "OCI runtime annotations, read by runtime hooks only (docker-py has no argument for them)",
        "credential_spec": "Windows containers' gMSA credentials only",
    },
    "deploy": {key: SWARM for key in ("mode", "placement", "update_config", "rollback_config", "endpoint_mode",
                                      "labels")} | {
        "restart_policy": "containers live only for the run; a service that stops is reported, not restarted"},
    "build": {
        "cache_from": "a cache source only changes how fast an image builds, not what it is",
        "cache_to": "a cache export only changes how fast later builds are, not the image a test runs",
        "provenance": "an attestation is metadata for a registry, not part of the image a test runs (Docker Compose "
                      "refuses it on an engine without the containerd image store)",
        "sbom": "an attestation is metadata for a registry, not part of the image a test runs (Docker Compose "
                "refuses it on an engine without the containerd image store)",
    },
    "network": {"name": PER_RUN_NETWORK, "enable_ipv4": "IPv4 is on, as Docker's default (engines before API 1.47 "
                "cannot turn it off)"},
    "volume": {},
    "secret": {key: SWARM for key in ("driver", "driver_opts", "template_driver", "labels")},
    "config": {key: SWARM for key in ("template_driver", "labels")},
    "file": {},
}

# key -> (why a test run cannot, what Docker Compose does)
REFUSED: dict[str, dict[str, tuple[str, str]]] = {
    "service": {
        "provider": ("a provider plugin runs outside Docker (by construction)",
                     "runs the provider's binary instead of a container"),
        "models": ("no Docker Model Runner on a test run's engine (by construction)",
                   "asks Docker Model Runner for the model"),
    },
    "deploy": {},
    "build": {},
    "network": {},
    "volume": {},
    "secret": {"external": ("Docker Compose does not start a service with one either (only swarm services have "
                            "them)", "refuses it: unsupported external secret")},
    "config": {"external": ("Docker Compose does not start a service with one either (only swarm services have "
                            "them)", "refuses it: unsupported external config")},
    "file": {"models": ("no Docker Model Runner on a test run's engine (by construction)",
                        "asks Docker Model Runner for the models")},
}


def kinds() -> list[str]:
    """Where keys are: service, deploy, build, network, volume, secret, config, file."""
    return list(HONOURED)


def known(kind: str) -> set[str]:
    """Every key of `kind` in one of the three tables."""
    return set(HONOURED[kind]) | set(IGNORED[kind]) | set(REFUSED[kind])


def refusal(kind: str, key: str) -> str:
    """The message for a refused key: why, then what Docker Compose does."""
    why, compose = REFUSED[kind][key]
    return f"{why}; Docker Compose: {compose}"
