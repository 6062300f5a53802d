"""report: what people read, shared by the CLI and the pytest plugin: progress and URL tables (rich), contract and
fuzz results, the contract matrix, JUnit, plain-text helpers, the report page (page, page_html, graph).

May import: harness.errors, harness.model, harness.runtime, harness.contracts, harness.fuzz, rich, graphviz (graph.py
only), the standard library. Not pytest: the plugin hands text to pytest itself.
"""
