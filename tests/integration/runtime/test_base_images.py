"""The base images the project's topologies use behave like the official ones (stand-ins or not)."""

from __future__ import annotations

from pathlib import Path

from harness import Topology, load_topology

from ..conftest import write_topology


def test_postgres_honours_user_password_and_database(tmp_path: Path) -> None:
    file = write_topology(tmp_path, """
name: base-postgres
services:
  postgres:
    image: postgres:15
    environment:
      POSTGRES_USER: runner
      POSTGRES_PASSWORD: secret-pw
      POSTGRES_DB: races
    ports: [5432]
    ready:
      command: ["pg_isready", "-h", "127.0.0.1", "-U", "runner", "-d", "races"]
""")
    with Topology.start(load_topology(file)) as topology:
        postgres = topology["postgres"]
        over_tcp = ["env", "PGPASSWORD=secret-pw", "psql", "-h", "127.0.0.1", "-U", "runner", "-d", "races", "-tAc"]
        assert postgres.exec([*over_tcp, "select current_user || '@' || current_database()"]).output.strip() \
            == "runner@races"
        wrong = postgres.exec(["env", "PGPASSWORD=nope", *over_tcp[2:], "select 1"])
        assert wrong.exit_code != 0 and "password authentication failed" in wrong.output
        assert "database system is ready to accept connections" in postgres.logs()


def test_postgres_runs_its_init_scripts_once_in_name_order(tmp_path: Path) -> None:
    """/docker-entrypoint-initdb.d as the official image runs it (a team's schema.sql mounted there): .sql, .sql.gz
    and .sh in name order, in POSTGRES_DB, as POSTGRES_USER; other files ignored."""
    import gzip

    scripts = tmp_path / "initdb"
    scripts.mkdir()
    (scripts / "01-schema.sql").write_text("CREATE TABLE runs (id int);\nINSERT INTO runs VALUES (7);\n")
    (scripts / "02-more.sql.gz").write_bytes(gzip.compress(b"CREATE TABLE laps (run int);\n"))
    (scripts / "03-owner.sh").write_text('psql -c "CREATE TABLE owner_$(whoami) (id int)"\n')
    (scripts / "README.md").write_text("not a script\n")
    file = write_topology(tmp_path, f"""
name: base-postgres-initdb
services:
  postgres:
    image: postgres:15
    environment: {{POSTGRES_USER: runner, POSTGRES_PASSWORD: secret-pw, POSTGRES_DB: races}}
    volumes: ["{scripts}:/docker-entrypoint-initdb.d:ro"]
    ready:
      command: ["pg_isready", "-h", "127.0.0.1", "-U", "runner", "-d", "races"]
""")
    with Topology.start(load_topology(file)) as topology:
        postgres = topology["postgres"]
        tables = postgres.exec(["psql", "-U", "runner", "-d", "races", "-tAc", "select string_agg(tablename || "
                                "':' || tableowner, ',' order by tablename) from pg_tables where schemaname = 'public'"])
        assert tables.output.strip() == "laps:runner,owner_postgres:runner,runs:runner", tables.output
        assert "ignoring /docker-entrypoint-initdb.d/README.md" in postgres.logs()


def test_redis_answers_on_6379(tmp_path: Path) -> None:
    file = write_topology(tmp_path, """
name: base-redis
services:
  redis:
    image: redis:7
    ports: [6379]
    ready: {log: Ready to accept connections}
""")
    with Topology.start(load_topology(file)) as topology:
        assert topology["redis"].exec(["redis-cli", "ping"]).output.strip() == "PONG"


def test_python_image_has_python_311_and_pip() -> None:
    import docker

    client = docker.from_env()
    output = client.containers.run("python:3.11-slim", ["sh", "-c", "python --version && pip --version"],
                                   remove=True).decode()
    assert output.startswith("Python 3.11.") and "pip " in output
    labels = client.images.get("python:3.11-slim").labels or {}
    if "org.pytest-topology.standin" in labels:  # a stand-in says what it is
        assert "debootstrap" in labels["org.pytest-topology.standin"]
