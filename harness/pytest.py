"""pytest helpers for conftest files: `topology_fixture(spec_or_file, scope="module")`.

    import harness.pytest
    shop_topology = harness.pytest.topology_fixture(shop, scope="module")
"""

from harness.pytest_plugin.fixtures import topology_fixture

__all__ = ["topology_fixture"]
