"""A build context that is a URL: recognised as Compose recognises one, nothing read from it, tagged by the URL and
the build's keys (harness.runtime.buildcontext.url_tag)."""

from __future__ import annotations

from harness.model.parts import BuildSpec
from harness.runtime.buildcontext import url_tag
from harness.runtime.images import dockerfile_text

URL = "https://git.example.invalid/team/shop.git#v1:service"


def test_a_url_context_is_remote_and_no_file_of_it_is_read(tmp_path) -> None:  # noqa: ANN001
    assert BuildSpec(context=URL).remote and BuildSpec(context="git@git.example.invalid:team/shop.git").remote
    assert BuildSpec(context="http://127.0.0.1:8000/ctx.tar.gz").remote
    assert not BuildSpec(context="./shop").remote and not BuildSpec(context="/srv/shop").remote
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert dockerfile_text(tmp_path, BuildSpec(context=URL)) is None  # the builder fetches it
    assert dockerfile_text(tmp_path, BuildSpec(context=URL, dockerfile_inline="FROM x")) == "FROM x"


def test_the_tag_of_a_url_context_follows_the_url_and_the_build_keys() -> None:
    plain = BuildSpec(context=URL)
    assert url_tag(URL, plain).startswith("pytest-topology/shop:")
    assert url_tag("http://127.0.0.1:8000/ctx.tar.gz", plain).startswith("pytest-topology/ctx:")
    assert url_tag("git@git.example.invalid:team/api.git", plain).startswith("pytest-topology/api:")
    # no_cache and pull change how it is built, not what: the same tag
    assert url_tag(URL, plain) == url_tag(URL, plain.model_copy(update={"no_cache": True, "pull": True}))
    others = [url_tag(URL, BuildSpec(context=URL, args={"A": "1"})), url_tag(URL.replace("v1", "v2"), plain),
              url_tag(URL, BuildSpec(context=URL, dockerfile="Dockerfile.prod"))]
    assert len({url_tag(URL, plain), *others}) == 4
