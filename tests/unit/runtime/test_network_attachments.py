"""Which networks a service is attached to, and under which names (pure: from the spec, no engine)."""

from harness.runtime.networks import attachments, engine_names


def test_a_service_with_network_mode_joins_no_network_of_a_file_that_declares_networks(load):
    spec = load("""
        services:
          api:
            image: x
            networks:
              back: {aliases: [api.back], priority: 10}
              front: {}
          metrics:
            image: x
            network_mode: "service:api"
          off:
            image: x
            network_mode: none
        networks:
          front:
          back:
    """, "compose.yaml")
    names = engine_names(spec, "r1", "harness-t-r1")
    assert [(a.network, a.aliases) for a in attachments(spec, "api", names)] == [
        ("harness-t-back-r1", ["api", "api.back"]), ("harness-t-front-r1", ["api"])]
    # Compose attaches neither to a network (the `default` the file does not declare was a KeyError here)
    assert attachments(spec, "metrics", names) == [] and attachments(spec, "off", names) == []
