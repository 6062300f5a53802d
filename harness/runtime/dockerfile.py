"""The base images a Dockerfile starts from (the only dockerfile-parse importer).

dockerfile-parse reads the file: instructions across continuation lines and comments, the `# escape=` directive,
word splitting and quotes, and a FROM's `--platform=` flag and `AS name`. Variables are expanded here, because its
own expansion (`parent_images`) knows only `$NAME` and `${NAME}`, not `${NAME:-default}` and the other forms Docker
documents, and it reads `ARG A B=2` as one argument A with the value "B=2".
"""

from __future__ import annotations

import io
import re

from dockerfile_parse import DockerfileParser
from dockerfile_parse.parser import image_from
from dockerfile_parse.util import WordSplitter

# $NAME, ${NAME}, ${NAME:-word}, ${NAME-word}, ${NAME:+word}, ${NAME+word} (Docker's "Environment replacement")
VARIABLE = re.compile(r"(?<!\\)\$(?:(?P<bare>\w+)|\{(?P<name>\w+)(?:(?P<colon>:?)(?P<op>[-+])(?P<word>[^}]*))?\})")


def base_images(dockerfile: str, args: dict[str, str], target: str | None = None) -> list[str]:
    """The images the FROM lines of a Dockerfile start from (and those its `COPY --from=` lines copy out of), in
    order, each once: not `scratch`, not a reference to an earlier stage, and only the stages up to `target` (Docker's
    classic builder, which docker-py drives, builds them all). `$VAR` in a FROM is expanded as Docker does: from the
    ARGs before the first FROM, whose defaults a build arg of the same name replaces (a build arg without such an ARG
    is not seen by FROM).

    Args:
        dockerfile: the Dockerfile's text.
        args: the build args (`build.args`).
        target: the stage to build up to (`build.target`), matched case-insensitively as Docker does.
    """
    parser = DockerfileParser(fileobj=io.BytesIO(dockerfile.encode("utf-8", "surrogateescape")))
    values: dict[str, str] = {}  # the ARGs that are set (an ARG without a default or build arg is unset)
    stages: set[str] = set()
    bases: list[str] = []
    in_target = False
    for instruction in parser.structure:
        if instruction["instruction"] == "COPY":  # `COPY --from=IMAGE` copies out of an image too
            for word in WordSplitter(instruction["value"]).split(dequote=False):
                if word.startswith("--from="):
                    image = _expand(word.removeprefix("--from="), values)
                    if image.lower() not in stages and not image.isdigit() and image not in bases:
                        bases.append(image)
        if instruction["instruction"] == "ARG" and not stages and not bases:
            for word in WordSplitter(instruction["value"]).split(dequote=False):
                name, has_default, default = word.partition("=")
                if name in args:
                    values[name] = args[name]
                elif has_default:
                    values[name] = _expand(default, values)
        elif instruction["instruction"] == "FROM":
            if in_target:  # the stage after the target: not built
                break
            image, stage = image_from(instruction["value"])
            if image is None:
                continue  # a FROM without an image: the build reports it
            image = _expand(image, values)
            if image.lower() != "scratch" and image.lower() not in stages and image not in bases:
                bases.append(image)
            stages.add((stage or f"#{len(stages)}").lower())
            in_target = bool(stage and target and stage.lower() == target.lower())
    return bases


def _expand(text: str, values: dict[str, str]) -> str:
    """`text` with its variables replaced from `values` (an unset one by nothing), then its quotes removed."""
    return str(WordSplitter(_substitute(text, values)).dequote())


def _substitute(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match["bare"] or match["name"]
        if match["op"] is None:
            return values.get(name, "")
        is_set = name in values and (values[name] != "" or not match["colon"])
        if match["op"] == "-":
            return values[name] if is_set else _substitute(match["word"], values)
        return _substitute(match["word"], values) if is_set else ""
    return VARIABLE.sub(replace, text)


# instruction -> its flags that Docker's classic builder (which docker-py drives) refuses: "the --mount option
# requires BuildKit", "Unknown flag: link" (measured on Docker 20.10)
BUILDKIT_FLAGS = {"RUN": ("--mount", "--network", "--security"),
                  "COPY": ("--chmod", "--link", "--parents", "--exclude"),
                  "ADD": ("--chmod", "--link", "--checksum", "--keep-git-dir", "--exclude")}


def buildkit_instructions(dockerfile: str) -> list[str]:
    """The instructions of a Dockerfile that only BuildKit builds, as 'RUN --mount (line 3)', in order."""
    parser = DockerfileParser(fileobj=io.BytesIO(dockerfile.encode("utf-8", "surrogateescape")))
    found = []
    for instruction in parser.structure:
        flags = BUILDKIT_FLAGS.get(instruction["instruction"], ())
        for word in WordSplitter(instruction["value"]).split(dequote=False) if flags else ():
            if not word.startswith("--"):
                break  # flags come first
            flag = word.partition("=")[0]
            if flag in flags:
                found.append(f"{instruction['instruction']} {flag} (line {instruction['startline'] + 1})")
    return found
