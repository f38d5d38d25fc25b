#!/usr/bin/env bash
# Creating a project by pushing, with real clients: Berth runs with access control on and
# auth.create_projects_on_push: users, so any signed-in user who pushes into a project that does
# not exist creates it and becomes its owner.
#
# Regression (issue 10, item 5): skopeo and podman begin a push by asking whether each blob is
# already in the repository (HEAD /v2/<name>/blobs/<digest>). In a project that did not exist yet
# that HEAD was answered 403, and both gave up before uploading anything. A caller who may create
# the project must find it empty (404), and the push must go through.
#
#   - skopeo copy --dest-creds as alice into alices/app: the project is created, alice owns it, and
#     the image comes back byte for byte;
#   - podman push --creds as bob (an image built here) into bobs/app: the same, compared by image ID;
#   - a robot may not create projects: its push into a missing project is refused (the upload it
#     would start says that the project does not exist and who may create it), and nothing is
#     created.
#
#   bash tests/clients/project_creation.sh PATH/TO/berth
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

[[ $REGISTRY_KIND == berth ]] ||
  fail "$TEST_NAME tests Berth's project creation: run it with BERTH_TEST_REGISTRY=berth"

secret() { echo "$1-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"; }
ADMIN_PW=$(secret admin)
ALICE_PW=$(secret alice)
BOB_PW=$(secret bob)

_berth_env=("BERTH_ADMIN_PASSWORD=$ADMIN_PW" "BERTH_AUTH_CREATE_PROJECTS_ON_PUSH=users")
start_registry
REGISTRY_CURL=(-u "admin:$ADMIN_PW")
use_container_storage

berth_cli user add alice --password-stdin <<<"$ALICE_PW" >/dev/null
berth_cli user add bob --password-stdin <<<"$BOB_PW" >/dev/null
berth_cli project create ci >/dev/null
CI_TOKEN=$(berth_cli robot create builder --project ci:owner)

# members_of PROJECT: the members of PROJECT as "user:role" lines.
members_of() { berth_cli project member list "$1"; }

# --- skopeo -------------------------------------------------------------------------------------
SRC="$T/src"
mkdir -p "$T/files"
make_random_file "$T/files/a.bin" $((1024 * 1024))
printf 'made by skopeo for a new project %s\n' "$RANDOM" >"$T/files/b.txt"
umoci_image "$SRC" v1
umoci_add "$SRC" v1 "$T/files/a.bin" /a.bin
umoci_add "$SRC" v1 "$T/files/b.txt" /etc/b.txt
V1=$(layout_tag_digest "$SRC" v1)

mark=$(server_log_lines)
run "${SKOPEO[@]}" copy --preserve-digests --dest-tls-verify=false --dest-creds "alice:$ALICE_PW" \
  "oci:$SRC:v1" "docker://$REG/alices/app:v1"
assert_logged "$mark" "HEAD /v2/alices/app/blobs/[^ ]* 404 .* user=alice " \
  "skopeo's probe of a blob in the project it is about to create (if skopeo no longer probes, this
test needs a new way in)"
got=$(fetch_manifest alices/app v1 "$T/alices.json")
assert_eq "$V1" "$got" "digest of alices/app:v1 pushed by skopeo as alice"
grep -Eq 'alice.*owner' <<<"$(members_of alices)" ||
  fail "alice's push did not make her the owner of project alices: $(members_of alices)"
run "${SKOPEO[@]}" copy --src-tls-verify=false --src-creds "alice:$ALICE_PW" \
  "docker://$REG/alices/app:v1" "oci:$T/out-alice:v1"
assert_layout_copy "$SRC" "$T/out-alice" "$V1" "alices/app:v1 pulled back by alice"

# --- podman -------------------------------------------------------------------------------------
log "building an image with podman build"
mkdir -p "$T/ctx"
printf 'made by podman for a new project %s\n' "$RANDOM" >"$T/ctx/hello.txt"
make_random_file "$T/ctx/data.bin" $((512 * 1024))
cat >"$T/ctx/Containerfile" <<EOF
FROM scratch
COPY hello.txt /etc/hello.txt
COPY data.bin /data/data.bin
LABEL berth.test=project-creation-$RANDOM
EOF
run podman build --format oci -t localhost/clients/creation:built "$T/ctx"
IMAGE_ID=$(capture podman image inspect --format '{{.Id}}' localhost/clients/creation:built)

mark=$(server_log_lines)
run podman push --tls-verify=false --creds "bob:$BOB_PW" --digestfile "$T/bob.digest" \
  localhost/clients/creation:built "docker://$REG/bobs/app:1.0"
got=$(fetch_manifest bobs/app 1.0 "$T/bobs.json")
assert_eq "$(cat "$T/bob.digest")" "$got" "digest of bobs/app:1.0 vs podman push --digestfile"
assert_eq "sha256:$IMAGE_ID" "$(jq -r .config.digest "$T/bobs.json")" \
  "config digest of bobs/app:1.0 vs the image ID"
assert_logged "$mark" "PUT /v2/bobs/app/manifests/1.0 201 .* user=bob " "podman push: manifest PUT"
grep -Eq 'bob.*owner' <<<"$(members_of bobs)" ||
  fail "bob's push did not make him the owner of project bobs: $(members_of bobs)"
run podman rmi --all --force
run podman pull --tls-verify=false --creds "bob:$BOB_PW" "$REG/bobs/app:1.0"
got=$(capture podman image inspect --format '{{.Id}}' "$REG/bobs/app:1.0")
assert_eq "$IMAGE_ID" "$got" "image ID of bobs/app:1.0 pulled back by bob"

# --- a robot creates nothing ----------------------------------------------------------------------
expect_refusal '403|denied|forbidden' "skopeo push by a robot into a missing project" \
  "${SKOPEO[@]}" copy --dest-tls-verify=false --dest-creds "robot\$builder:$CI_TOKEN" \
  "oci:$SRC:v1" "docker://$REG/robots/app:v1"
# skopeo gives up at its HEAD (no body); the upload it would start says why.
curl -sS -u "robot\$builder:$CI_TOKEN" -X POST -o "$T/refusal.json" \
  "http://$REG/v2/robots/app/blobs/uploads/" || fail "POST of an upload as the robot got no answer"
grep -q "project 'robots' does not exist, and robot accounts do not create projects" \
  "$T/refusal.json" || fail "the robot's refusal does not say why: $(cat "$T/refusal.json")"
if berth_cli project list | grep -qw robots; then
  fail "a robot's refused push created project robots: $(berth_cli project list)"
fi

# --- no request made the server fail -----------------------------------------------------------
if grep -E ' access [A-Z]+ [^ ]+ 5[0-9][0-9] ' "$T/server.log" >"$T/logs/5xx.log"; then
  head -n 5 "$T/logs/5xx.log" >&2
  fail "the registry answered $(wc -l <"$T/logs/5xx.log") requests with a 5xx status (first above)"
fi
log "skopeo and podman created projects by pushing; a robot did not"
