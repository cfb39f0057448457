#!/usr/bin/env bash
# make images — builds one image per function (functions/<name>/ with a handler.ts and a service.yaml) from
# platform/k3s/image/Dockerfile, tagged as its service.yaml says (dev.local/sluice/<name>:<tag>), then either
# imports it into k3s' containerd (no registry: Knative skips digest resolution for dev.local, see
# install-platform.sh) or, with REGISTRY=<host/path>, tags it $REGISTRY/sluice/<name>:<tag> and pushes it
# (render the manifests with the same REGISTRY: `make manifests REGISTRY=…`).
# Builder: BUILDER=docker|buildah|nerdctl, else the first one found. FN=<name> builds one. DRY_RUN=1 prints.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REGISTRY="${REGISTRY:-}"
DOCKERFILE="$K3S_DIR/image/Dockerfile"
BUILDER="${BUILDER:-}"
if [[ -z "$BUILDER" ]]; then
  for candidate in docker buildah nerdctl; do
    if command -v "$candidate" >/dev/null; then BUILDER="$candidate" && break; fi
  done
fi
if [[ -z "$BUILDER" ]]; then
  [[ "$DRY_RUN" == 1 ]] || die "no image builder: install docker, buildah or nerdctl"
  BUILDER=docker
fi
SUDO=()
[[ "$(id -u)" == 0 ]] || SUDO=(sudo)

# Function folders are functions/<system>/<name>/ (the Knative Service name is the folder name).
declare -A function_dirs=()
for dir in "$REPO_ROOT"/functions/*/*/; do
  [[ -f "$dir/handler.ts" && -f "$dir/service.yaml" ]] && function_dirs["$(basename "$dir")"]="${dir%/}"
done
functions=()
if [[ -n "${FN:-}" ]]; then
  [[ -n "${function_dirs[$FN]:-}" ]] || die "no function named $FN under functions/<system>/"
  functions=("$FN")
else
  mapfile -t functions < <(printf '%s\n' "${!function_dirs[@]}" | sort)
fi

for fn in "${functions[@]}"; do
  service="${function_dirs[$fn]}/service.yaml"
  image="$(awk '$1 == "image:" { print $2; exit }' "$service")"
  [[ "$image" == dev.local/sluice/"$fn":* ]] || die "${service#"$REPO_ROOT"/} image $image is not dev.local/sluice/$fn:<tag>"
  log "$fn → $image ($BUILDER)"
  case "$BUILDER" in
    buildah) run buildah build --ignorefile "$DOCKERFILE.dockerignore" -f "$DOCKERFILE" --build-arg "FN=$fn" -t "$image" "$REPO_ROOT" ;;
    *) run "$BUILDER" build -f "$DOCKERFILE" --build-arg "FN=$fn" -t "$image" "$REPO_ROOT" ;;
  esac
  if [[ -n "$REGISTRY" ]]; then
    target="$REGISTRY/sluice/${image#dev.local/sluice/}"
    run "$BUILDER" tag "$image" "$target"
    run "$BUILDER" push "$target"
  else
    archive="${TMPDIR:-/tmp}/sluice-$fn.tar"
    case "$BUILDER" in
      buildah) run buildah push "$image" "docker-archive:$archive:$image" ;;
      *) run "$BUILDER" save -o "$archive" "$image" ;;
    esac
    run "${SUDO[@]}" k3s ctr images import "$archive"
    run rm -f "$archive"
  fi
done
