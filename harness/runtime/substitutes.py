"""Image substitutes that replace nothing: a rule (`--image-substitute`, the ini's `image_substitutes`, the topology
key) that no image of the topology takes is said once, with why, instead of leaving the user to believe it is used:
its image is one a build of the topology makes (used as built, never substituted: see images.prepare_images), no
`image:` or FROM line names it, or another rule wins for every image it matches. And the images Testcontainers' hub
image prefix substitutes, said once."""

from __future__ import annotations

from harness.engine_source import hub_image_prefix, hub_prefix_source
from harness.model.topology import TopologySpec
from harness.runtime.dockerfile import base_images
from harness.runtime.images import dockerfile_text, hub_prefixed, substitute, substitute_rule


def hub_prefix_note(spec: TopologySpec) -> list[str]:
    """One note naming the images of `spec` that Testcontainers' hub image prefix substitutes (`redis:7 ->
    mirror/redis:7`), said once at the start so that a name nobody wrote is not a surprise; [] when none."""
    if not hub_image_prefix():
        return []
    wanted, _, _ = _wanted_images(spec)
    changed = {image: substitute(image, spec.image_substitutes) for image in wanted
               if hub_prefixed(image, spec.image_substitutes)}
    if not changed:
        return []
    pairs = ", ".join(f"{image} -> {replacement}" for image, replacement in sorted(changed.items()))
    return [f"{hub_prefix_source()} substitutes Docker Hub images of topology {spec.name}: {pairs}"]


def unapplied_substitutes(spec: TopologySpec) -> list[str]:
    """A note per substitute of `spec.image_substitutes` that images.prepare_images applies to no image: its
    `image:` names (of services without `build:`) and the FROM lines of its builds, less the names a build makes.
    None is said of a rule that may apply to a FROM line this cannot read (a build context at a URL)."""
    if not spec.image_substitutes:
        return []
    wanted, built, unread = _wanted_images(spec)
    taken = {substitute_rule(image, spec.image_substitutes) for image in wanted}
    notes = []
    for original, replacement in spec.image_substitutes.items():
        if original in taken:
            continue
        rule = f"image substitute '{original}={replacement}' replaces no image of topology {spec.name}"
        maker = None if original.endswith("/") else next(
            (service for tag, service in built.items() if substitute_rule(tag, {original: ""})), None)
        matched = [image for image in wanted if substitute_rule(image, {original: ""})]
        if matched:
            winner = substitute_rule(matched[0], spec.image_substitutes)
            notes.append(f"{rule}: the substitute '{winner}' wins for {matched[0]}")
        elif maker is not None:
            notes.append(f"{rule}: service '{maker}' builds that image (its build: names it), and a built image is "
                         "used as built, never substituted; substitute the FROM image of its Dockerfile instead")
        elif not unread:
            names = "names an image under it" if original.endswith("/") else "names it"
            notes.append(f"{rule}: no `image:` and no FROM line of its builds {names}")
    return notes


def _wanted_images(spec: TopologySpec) -> tuple[list[str], dict[str, str], bool]:
    """The images `spec` needs as written (`image:` of services without `build:`, FROM lines, less what a build
    makes), the names its builds make (-> their service), and whether a Dockerfile could not be read."""
    builders = {name: service for name, service in spec.services.items() if service.build is not None}
    built = {tag: name for name, service in builders.items() for tag in
             [*([service.image] if service.image else []), *(service.build.tags if service.build else [])]}
    images: list[str] = [s.image for s in spec.services.values() if s.build is None and s.image is not None]
    unread = False
    for service in builders.values():
        assert service.build is not None
        text = dockerfile_text(spec.base_dir / service.build.context, service.build)
        unread = unread or text is None
        images += [base for base in base_images(text or "", service.build.args, service.build.target)
                   if base not in service.build.additional_contexts]
    return [image for image in images if image not in built], built, unread
