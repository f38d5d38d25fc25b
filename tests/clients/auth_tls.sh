#!/usr/bin/env bash
# Access control over TLS with real clients. Berth runs with an administrator password (access
# control on) and a TLS listener whose certificate comes from a CA this test makes with openssl;
# every client gets that CA (podman/skopeo --cert-dir, containerd --tlscacert and hosts.toml),
# never an "insecure" switch, and a client without it must fail verification.
#
# Accounts: project "team" (private) with wendy as writer and rita as reader, project "pub"
# (public), robots ci (team:writer) and viewer (team:reader).
#
#   - podman login (private --authfile) as wendy, push and pull with the token flow: the image ID,
#     diff_ids and files come back identical;
#   - rita (reader) pulls, but her pushes (new blobs, and a retag that is only a manifest PUT) are
#     refused with "denied", and nothing is written: no tag, no blob;
#   - skopeo --dest-creds/--src-creds as wendy and as robot$ci, byte-for-byte; robot$viewer may not
#     push; a wrong robot token, and later a revoked one, are refused;
#   - buildah push --creds as robot$ci and pull as robot$viewer;
#   - an administrator's push creates a project, a user's push into a missing one is refused and
#     creates nothing; skopeo's cross-repository mount from a project wendy may not read is not
#     honoured (the layers are uploaded);
#   - anonymous pull of the public project with skopeo and podman works; anonymous pull of the
#     private one and anonymous push into the public one are refused;
#   - containerd (ctr --user, the OAuth2 password grant of POST /token) pulls over TLS with the CA;
#     via hosts.toml (ca = ...) anonymously from the public project; with --refresh, the
#     refresh_token grant, using an offline token from GET /token?offline_token=true;
#   - skopeo with an identitytoken (docker login's offline refresh token) in its auth file;
#   - after `berth user passwd`, the old password and the refresh token are refused, and after
#     `berth robot revoke`, the robot's token (both changed while Berth runs);
#   - no request got a 5xx answer, and no password or token appears in the registry's log.
#
#   bash tests/clients/auth_tls.sh PATH/TO/berth
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"

secret() { echo "$1-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"; }
ADMIN_PW=$(secret admin)
WENDY_PW=$(secret wendy)
RITA_PW=$(secret rita)

start_registry_tls "$ADMIN_PW"
use_container_storage

# The realm in the challenge must be the TLS listener, or clients would send passwords over HTTP.
curl -sS --cacert "$CA_PEM" -D "$T/v2.headers" -o /dev/null "https://$REG/v2/" ||
  fail "GET https://$REG/v2/ failed"
challenge=$(header_value "$T/v2.headers" WWW-Authenticate)
[[ $challenge == "Bearer realm=\"https://$REG/token\""* ]] ||
  fail "the challenge of https://$REG/v2/ should name realm https://$REG/token, got: $challenge"

log "accounts"
berth_cli project create team >/dev/null
berth_cli project create pub --public >/dev/null
berth_cli user add wendy --password-stdin <<<"$WENDY_PW" >/dev/null
berth_cli user add rita --password-stdin <<<"$RITA_PW" >/dev/null
berth_cli project member add team wendy writer >/dev/null
berth_cli project member add team rita reader >/dev/null
CI_TOKEN=$(berth_cli robot create ci --project team:writer)
VIEWER_TOKEN=$(berth_cli robot create viewer --project team:reader)
[[ $CI_TOKEN =~ ^[[:graph:]]{16,}$ && $VIEWER_TOKEN =~ ^[[:graph:]]{16,}$ ]] ||
  fail "berth robot create printed '$CI_TOKEN' / '$VIEWER_TOKEN', not one token each"
SECRETS=("$ADMIN_PW" "$WENDY_PW" "$RITA_PW" "$CI_TOKEN" "$VIEWER_TOKEN")

DENIED='denied|403|forbidden'
UNAUTH='unauthorized|authentication required|401'

# --- TLS is verified --------------------------------------------------------------------------
expect_refusal 'x509|certificate signed by unknown authority' "skopeo without the test CA" \
  "${SKOPEO[@]}" inspect --raw --creds "wendy:$WENDY_PW" "docker://$REG/team/none:x"
expect_refusal 'x509|certificate signed by unknown authority' "podman login without the test CA" \
  podman login --authfile "$T/nocert.json" -u wendy -p "$WENDY_PW" "$REG"

# --- podman: login as a writer, push, pull --------------------------------------------------
log "building an image with podman build"
mkdir -p "$T/ctx"
cp /bin/busybox "$T/ctx/busybox"
printf 'Hello over TLS %s\n' "$RANDOM" >"$T/ctx/hello.txt"
make_random_file "$T/ctx/data.bin" $((6 * 1024 * 1024))
cat >"$T/ctx/Containerfile" <<EOF
FROM scratch
COPY busybox /bin/busybox
COPY hello.txt /etc/hello.txt
COPY data.bin /data/data.bin
LABEL berth.test=auth-tls-$RANDOM
CMD ["/bin/busybox", "sh"]
EOF
run podman build --layers --format oci -t localhost/clients/auth:built "$T/ctx"

# image_facts REF OUT: image ID, diff_ids and the sha256 of each file put in the image.
image_facts() {
  local ref=$1 out=$2 mnt f
  capture podman image inspect --format '{{.Id}} {{json .RootFS.Layers}}' "$ref" >"$out"
  mnt=$(capture podman image mount "$ref")
  [[ -d $mnt ]] || fail "podman image mount $ref gave '$mnt', not a directory"
  for f in bin/busybox etc/hello.txt data/data.bin; do
    [[ -f $mnt/$f ]] || fail "/$f is missing from the root filesystem of $ref"
    echo "$f $(sha256_of "$mnt/$f")" >>"$out"
  done
  run podman image unmount "$ref"
}
image_facts localhost/clients/auth:built "$T/before.txt"
IMAGE_ID=$(head -n 1 "$T/before.txt" | cut -d' ' -f1)

PODMAN_TLS=(--cert-dir "$CERT_DIR")
expect_refusal "$UNAUTH|invalid username/password" "podman login with a wrong password" \
  podman login --authfile "$T/wrong.json" "${PODMAN_TLS[@]}" -u wendy -p "not-$WENDY_PW" "$REG"

run podman login --authfile "$T/wendy.json" "${PODMAN_TLS[@]}" -u wendy --password-stdin "$REG" \
  <<<"$WENDY_PW"
stored=$(jq -r --arg r "$REG" '.auths[$r].auth // empty' "$T/wendy.json" | base64 -d)
assert_eq "wendy:$WENDY_PW" "$stored" "credentials podman login stored for $REG"

REPO=team/app
mark=$(server_log_lines)
run podman push --authfile "$T/wendy.json" "${PODMAN_TLS[@]}" --digestfile "$T/pushed.digest" \
  localhost/clients/auth:built "docker://$REG/$REPO:1.0"
PUSHED=$(cat "$T/pushed.digest")
got=$(fetch_manifest "$REPO" 1.0 "$T/manifest.json")
assert_eq "$PUSHED" "$got" "digest of $REPO:1.0 vs podman push --digestfile"
assert_eq "sha256:$IMAGE_ID" "$(jq -r .config.digest "$T/manifest.json")" \
  "config digest of $REPO:1.0 vs the image ID"
# The token flow: a token for pull,push on team/app, asked for by wendy, then the manifest PUT.
scope_re='scope=repository(:|%3A)team(/|%2F)app(:|%3A)pull(,|%2C)push'
assert_logged "$mark" "GET /token\?[^ ]*${scope_re}[^ ]* 200 .* user=wendy " \
  "podman push: wendy's token request for pull,push on $REPO"
assert_logged "$mark" "PUT /v2/$REPO/manifests/1.0 201 .* user=wendy " "podman push: manifest PUT"

run podman rmi --all --force
run podman pull --authfile "$T/wendy.json" "${PODMAN_TLS[@]}" "$REG/$REPO:1.0"
image_facts "$REG/$REPO:1.0" "$T/after.txt"
diff -u "$T/before.txt" "$T/after.txt" >&2 ||
  fail "the image wendy pulled back differs from the one she pushed (diff above)"
log "podman as writer: image ID, diff_ids and files identical after push and pull over TLS"

# --- a reader may pull and may not push -------------------------------------------------------
run podman login --authfile "$T/rita.json" "${PODMAN_TLS[@]}" -u rita --password-stdin "$REG" \
  <<<"$RITA_PW"
run podman rmi --all --force
run podman pull --authfile "$T/rita.json" "${PODMAN_TLS[@]}" "$REG/$REPO@$PUSHED"
got=$(capture podman image inspect --format '{{.Id}}' "$REG/$REPO@$PUSHED")
assert_eq "$IMAGE_ID" "$got" "image ID of $REPO pulled by the reader"

printf 'rita was here %s\n' "$RANDOM" >"$T/ctx/rita.txt"
cat >"$T/ctx/Containerfile.rita" <<EOF
FROM scratch
COPY rita.txt /etc/rita.txt
LABEL berth.test=auth-tls-rita-$RANDOM
EOF
run podman build --format oci -f "$T/ctx/Containerfile.rita" -t localhost/clients/auth:rita \
  "$T/ctx"
RITA_ID=$(capture podman image inspect --format '{{.Id}}' localhost/clients/auth:rita)
mark=$(server_log_lines)
expect_refusal "$DENIED" "podman push of a new image by a reader" \
  podman push --authfile "$T/rita.json" "${PODMAN_TLS[@]}" localhost/clients/auth:rita \
  "docker://$REG/$REPO:by-rita"
assert_logged "$mark" " 403 .* user=rita " "the reader's refused push answered 403"
assert_absent "$REPO" by-rita "after the reader's refused push"
code=$(registry_status "v2/$REPO/blobs/sha256:$RITA_ID")
assert_eq 404 "$code" "GET of the refused image's config blob in $REPO (nothing may be written)"
# Every blob is already there: only the manifest PUT remains, and it must be refused too.
expect_refusal "$DENIED" "podman retag-push by a reader (manifest PUT only)" \
  podman push --authfile "$T/rita.json" "${PODMAN_TLS[@]}" "$REG/$REPO@$PUSHED" \
  "docker://$REG/$REPO:retag-by-rita"
assert_absent "$REPO" retag-by-rita "after the reader's refused retag"
got=$(fetch_manifest "$REPO" 1.0 "$T/manifest-again.json")
assert_eq "$PUSHED" "$got" "$REPO:1.0 after the reader's refused pushes"
got=$(capture "${SKOPEO[@]}" list-tags --cert-dir "$CERT_DIR" --creds "rita:$RITA_PW" \
  "docker://$REG/$REPO" | jq -c '.Tags | sort')
assert_eq '["1.0"]' "$got" "tags of $REPO listed by the reader with skopeo list-tags"

# --- skopeo with credentials: a writer and robot accounts -------------------------------------
SRC="$T/src"
mkdir -p "$T/files"
make_random_file "$T/files/a.bin" $((2 * 1024 * 1024))
printf 'skopeo over TLS %s\n' "$RANDOM" >"$T/files/b.txt"
umoci_image "$SRC" v1
umoci_add "$SRC" v1 "$T/files/a.bin" /a.bin
umoci_add "$SRC" v1 "$T/files/b.txt" /etc/b.txt
run umoci config --image "$SRC:v1" --config.label "berth.tag=v2" --tag v2
umoci_add "$SRC" v2 "$T/files/b.txt" /etc/b2.txt
V1=$(layout_tag_digest "$SRC" v1)
V2=$(layout_tag_digest "$SRC" v2)
V1_CONFIG=$(jq -r .config.digest "$(blob_path "$SRC" "$V1")")

DEST_TLS=(--dest-cert-dir "$CERT_DIR")
SRC_TLS=(--src-cert-dir "$CERT_DIR")
run "${SKOPEO[@]}" copy --preserve-digests "${DEST_TLS[@]}" --dest-creds "wendy:$WENDY_PW" \
  "oci:$SRC:v1" "docker://$REG/team/tools:v1"
got=$(fetch_manifest team/tools v1 "$T/tools.json")
assert_eq "$V1" "$got" "digest of team/tools:v1 pushed by skopeo as wendy"

run "${SKOPEO[@]}" copy "${SRC_TLS[@]}" --src-creds "robot\$ci:$CI_TOKEN" \
  "docker://$REG/team/tools:v1" "oci:$T/out-robot:v1"
assert_layout_copy "$SRC" "$T/out-robot" "$V1" "team/tools:v1 pulled by robot\$ci"

mark=$(server_log_lines)
run "${SKOPEO[@]}" copy --preserve-digests "${DEST_TLS[@]}" --dest-creds "robot\$ci:$CI_TOKEN" \
  "oci:$SRC:v2" "docker://$REG/team/robot:v2"
assert_logged "$mark" "PUT /v2/team/robot/manifests/v2 201 .* user=robot\\\$ci " \
  "the manifest PUT by robot\$ci"
run "${SKOPEO[@]}" copy "${SRC_TLS[@]}" --src-creds "wendy:$WENDY_PW" \
  "docker://$REG/team/robot:v2" "oci:$T/out-wendy:v2"
assert_layout_copy "$SRC" "$T/out-wendy" "$V2" "team/robot:v2 pushed by robot\$ci, pulled by wendy"

expect_refusal "$DENIED" "skopeo push by a reader robot" \
  "${SKOPEO[@]}" copy "${DEST_TLS[@]}" --dest-creds "robot\$viewer:$VIEWER_TOKEN" \
  "oci:$SRC:v2" "docker://$REG/team/tools:by-viewer"
assert_absent team/tools by-viewer "after robot\$viewer's refused push"
run "${SKOPEO[@]}" inspect --raw --cert-dir "$CERT_DIR" --creds "robot\$viewer:$VIEWER_TOKEN" \
  "docker://$REG/team/tools:v1"
expect_refusal "$UNAUTH" "skopeo with a wrong robot token" \
  "${SKOPEO[@]}" inspect --raw --cert-dir "$CERT_DIR" --creds "robot\$ci:${CI_TOKEN}x" \
  "docker://$REG/team/tools:v1"

# --- projects: made by an administrator's push, not by a user's; no mount across projects -------
# admin's push creates the private project "vault"; skopeo's blob-info cache then knows the layers
# are in vault/secret, and when wendy pushes the same image to team it asks vault/secret for them,
# to mount them from there. She may not read vault: Berth must refuse (403, whether or not the blob
# is there) and must not mount; the layers are uploaded instead.
SEC="$T/secret"
make_random_file "$T/files/secret.bin" $((512 * 1024))
umoci_image "$SEC" s1
umoci_add "$SEC" s1 "$T/files/secret.bin" /secret.bin
SECRET_DIGEST=$(layout_tag_digest "$SEC" s1)
run "${SKOPEO[@]}" copy --preserve-digests "${DEST_TLS[@]}" --dest-creds "admin:$ADMIN_PW" \
  "oci:$SEC:s1" "docker://$REG/vault/secret:s1"
projects=$(berth_cli project list)
grep -qw vault <<<"$projects" ||
  fail "pushing vault/secret as admin did not create project vault: $projects"
mark=$(server_log_lines)
run "${SKOPEO[@]}" copy --preserve-digests "${DEST_TLS[@]}" --dest-creds "wendy:$WENDY_PW" \
  "oci:$SEC:s1" "docker://$REG/team/copy:s1"
assert_logged "$mark" "HEAD /v2/vault/secret/blobs/[^ ]* 403 .* user=wendy " \
  "skopeo probing vault/secret for wendy (if skopeo no longer tries, this test needs a new way in)"
if tail -n "+$((mark + 1))" "$T/server.log" |
  grep -E "POST /v2/team/copy/blobs/uploads/\?[^ ]*from=vault[^ ]* 201 " >&2; then
  fail "a blob of vault/secret was mounted into team/copy for wendy, who may not read vault"
fi
assert_logged "$mark" "PUT /v2/team/copy/blobs/uploads/[^ ]* 201 .* user=wendy " \
  "wendy's upload of the layers to team/copy"
run "${SKOPEO[@]}" copy "${SRC_TLS[@]}" --src-creds "wendy:$WENDY_PW" \
  "docker://$REG/team/copy:s1" "oci:$T/out-copy:s1"
assert_layout_copy "$SEC" "$T/out-copy" "$SECRET_DIGEST" "team/copy:s1 pushed and pulled by wendy"
expect_refusal "$DENIED" "skopeo push by a user into a project that does not exist" \
  "${SKOPEO[@]}" copy "${DEST_TLS[@]}" --dest-creds "wendy:$WENDY_PW" "oci:$SEC:s1" \
  "docker://$REG/nope/x:s1"
projects=$(berth_cli project list)
if grep -qw nope <<<"$projects"; then
  fail "wendy's refused push created project nope: $projects"
fi
assert_absent nope/x s1 "after wendy's refused push into a project that does not exist"

# --- buildah: push as robot$ci, pull back as robot$viewer -------------------------------------
bctr=$(capture buildah from scratch)
run buildah copy "$bctr" "$T/files/b.txt" /etc/b.txt
run buildah config --label "berth.test=auth-tls-buildah-$RANDOM" "$bctr"
run buildah commit --format oci "$bctr" localhost/clients/auth:buildah
BUILDAH_ID=$(capture buildah images --no-trunc --format '{{.ID}}' localhost/clients/auth:buildah)
run buildah push --cert-dir "$CERT_DIR" --creds "robot\$ci:$CI_TOKEN" \
  --digestfile "$T/buildah.digest" localhost/clients/auth:buildah "docker://$REG/team/buildah:1"
got=$(fetch_manifest team/buildah 1 "$T/buildah.json")
assert_eq "$(cat "$T/buildah.digest")" "$got" \
  "digest of team/buildah:1 vs buildah push --digestfile"
run buildah rm --all
run buildah rmi --all --force
run buildah pull --cert-dir "$CERT_DIR" --creds "robot\$viewer:$VIEWER_TOKEN" "$REG/team/buildah:1"
got=$(capture buildah images --no-trunc --format '{{.ID}}' "$REG/team/buildah:1")
assert_eq "${BUILDAH_ID#sha256:}" "${got#sha256:}" \
  "image ID of team/buildah:1 pulled by robot\$viewer"

# --- anonymous --------------------------------------------------------------------------------
run "${SKOPEO[@]}" copy --preserve-digests "${DEST_TLS[@]}" --dest-creds "admin:$ADMIN_PW" \
  "oci:$SRC:v1" "docker://$REG/pub/base:v1"
run "${SKOPEO[@]}" copy "${SRC_TLS[@]}" --src-no-creds "docker://$REG/pub/base:v1" \
  "oci:$T/out-anon:v1"
assert_layout_copy "$SRC" "$T/out-anon" "$V1" "pub/base:v1 pulled anonymously by skopeo"
echo '{}' >"$T/empty.json"
run podman rmi --all --force
run podman pull --authfile "$T/empty.json" "${PODMAN_TLS[@]}" "$REG/pub/base:v1"
got=$(capture podman image inspect --format '{{.Id}}' "$REG/pub/base:v1")
assert_eq "$V1_CONFIG" "sha256:$got" "image ID of pub/base:v1 pulled anonymously by podman"

expect_refusal "$UNAUTH" "anonymous skopeo pull from a private project" \
  "${SKOPEO[@]}" copy "${SRC_TLS[@]}" --src-no-creds "docker://$REG/team/tools:v1" \
  "oci:$T/out-anon-private:v1"
expect_refusal "$UNAUTH" "anonymous podman pull from a private project" \
  podman pull --authfile "$T/empty.json" "${PODMAN_TLS[@]}" "$REG/$REPO:1.0"
expect_refusal "$UNAUTH" "anonymous skopeo push into a public project" \
  "${SKOPEO[@]}" copy "${DEST_TLS[@]}" --dest-no-creds "oci:$SRC:v2" "docker://$REG/pub/anon:v2"
assert_absent pub/anon v2 "after the anonymous push"

# --- containerd -------------------------------------------------------------------------------
# ctr 1.6 talks plain HTTP to a loopback registry unless a hosts.toml names an https server: one
# hosts directory says only that (the CA then comes from --tlscacert), another also gives ca = ...
start_containerd
hosts_toml() { # DIR [CA]
  mkdir -p "$1/$REG"
  {
    echo "server = \"https://$REG\""
    echo "[host.\"https://$REG\"]"
    echo '  capabilities = ["pull", "resolve", "push"]'
    [[ -z ${2:-} ]] || echo "  ca = \"$2\""
  } >"$1/$REG/hosts.toml"
}
hosts_toml "$T/hosts-https"
hosts_toml "$T/hosts-ca" "$CA_PEM"
PULL=("${CTR[@]}" images pull --snapshotter native)
ctr_digest() { capture "${CTR[@]}" images ls | awk -v r="$1" '$1 == r { print $3 }'; }
assert_content() { # LAYOUT DIGEST WHAT
  local d n=0
  for d in $(closure "$1" "$2" | sort -u); do
    capture "${CTR[@]}" content get "$d" >"$T/content"
    assert_same_file "$(blob_path "$1" "$d")" "$T/content" "$3: ctr content get $d"
    n=$((n + 1))
  done
  log "$3: $n blobs identical in containerd's content store"
}

expect_refusal 'x509|certificate signed by unknown authority' "ctr pull without the test CA" \
  "${PULL[@]}" --hosts-dir "$T/hosts-https" --user "wendy:$WENDY_PW" "$REG/team/tools:v1"
mark=$(server_log_lines)
run "${PULL[@]}" --hosts-dir "$T/hosts-https" --tlscacert "$CA_PEM" --user "wendy:$WENDY_PW" \
  "$REG/team/tools:v1"
assert_eq "$V1" "$(ctr_digest "$REG/team/tools:v1")" "digest of team/tools:v1 pulled by ctr"
assert_content "$SRC" "$V1" "team/tools:v1 pulled by ctr --user"
# containerd asks with the OAuth2 password grant (POST), not GET with Basic credentials.
assert_logged "$mark" "POST /token 200 .* user=wendy " "ctr --user: the password grant"

expect_refusal "$UNAUTH" "ctr pull without credentials from a private project" \
  "${PULL[@]}" --hosts-dir "$T/hosts-ca" "$REG/$REPO:1.0"

# The CA from hosts.toml, anonymously, from the public project.
run "${PULL[@]}" --hosts-dir "$T/hosts-ca" "$REG/pub/base:v1"
assert_eq "$V1" "$(ctr_digest "$REG/pub/base:v1")" \
  "digest of pub/base:v1 pulled by ctr (hosts.toml)"

# An offline token as docker login gets it, then ctr --refresh: POST /token, refresh_token grant.
curl -sS --fail-with-body --cacert "$CA_PEM" -u "wendy:$WENDY_PW" -o "$T/offline.json" \
  "https://$REG/token?service=berth&offline_token=true&client_id=berth-test" ||
  fail "GET /token?offline_token=true as wendy failed: $(cat "$T/offline.json")"
REFRESH=$(jq -r '.refresh_token // empty' "$T/offline.json")
[[ -n $REFRESH ]] ||
  fail "GET /token?offline_token=true gave no refresh_token: $(cat "$T/offline.json")"
SECRETS+=("$REFRESH")
mark=$(server_log_lines)
run "${PULL[@]}" --hosts-dir "$T/hosts-ca" --refresh "$REFRESH" "$REG/team/robot:v2"
assert_eq "$V2" "$(ctr_digest "$REG/team/robot:v2")" \
  "digest of team/robot:v2 pulled by ctr --refresh"
assert_content "$SRC" "$V2" "team/robot:v2 pulled by ctr --refresh"
assert_logged "$mark" "POST /token 200 .* user=wendy " "ctr --refresh: the refresh_token grant"

# --- skopeo with docker login's identity token (the refresh_token grant of containers/image) ----
# As docker login writes it: the user name without a password, and the refresh token.
jq -n --arg r "$REG" --arg a "$(printf 'wendy:' | base64)" --arg t "$REFRESH" \
  '{auths: {($r): {auth: $a, identitytoken: $t}}}' >"$T/identity.json"
mark=$(server_log_lines)
run "${SKOPEO[@]}" copy "${SRC_TLS[@]}" --src-authfile "$T/identity.json" \
  "docker://$REG/team/tools:v1" "oci:$T/out-identity:v1"
assert_layout_copy "$SRC" "$T/out-identity" "$V1" "team/tools:v1 pulled with an identity token"
assert_logged "$mark" "POST /token 200 .* user=wendy " \
  "skopeo identitytoken: the refresh_token grant"

# --- revocation and a password change, live --------------------------------------------------
berth_cli robot revoke ci >/dev/null
expect_refusal "$UNAUTH" "skopeo with a revoked robot token" \
  "${SKOPEO[@]}" inspect --raw --cert-dir "$CERT_DIR" --creds "robot\$ci:$CI_TOKEN" \
  "docker://$REG/team/tools:v1"

# A new password ends wendy's sessions: her refresh token stops working, for ctr and skopeo alike.
berth_cli user passwd wendy --password-stdin <<<"$(secret wendy2)" >/dev/null
expect_refusal "$UNAUTH" "ctr --refresh with a refresh token from before a password change" \
  "${PULL[@]}" --hosts-dir "$T/hosts-ca" --refresh "$REFRESH" "$REG/team/buildah:1"
expect_refusal "$UNAUTH" "skopeo identitytoken from before a password change" \
  "${SKOPEO[@]}" inspect --raw --cert-dir "$CERT_DIR" --authfile "$T/identity.json" \
  "docker://$REG/team/tools:v1"
# A right password is remembered (auth.cache_sync, 1s by default): a change made by another
# process, as here by the command line, ends it at the server's next sync; through the API at
# once (tests/auth/cache_revocation_test.cpp).
expect_refusal_within 5 "$UNAUTH|invalid username/password" "podman pull with the old password" \
  podman pull --authfile "$T/wendy.json" "${PODMAN_TLS[@]}" "$REG/team/buildah:1"

# --- no request made the server fail ---------------------------------------------------------
if grep -E ' access [A-Z]+ [^ ]+ 5[0-9][0-9] ' "$T/server.log" >"$T/logs/5xx.log"; then
  head -n 5 "$T/logs/5xx.log" >&2
  fail "the registry answered $(wc -l <"$T/logs/5xx.log") requests with a 5xx status (first above)"
fi

# --- secrets stay out of the log ----------------------------------------------------------------
for s in "${SECRETS[@]}"; do
  if grep -qF -- "$s" "$T/server.log"; then
    fail "a password or token (${s:0:6}...) appears in the registry's log:" \
      "$(grep -nF -- "$s" "$T/server.log" | head -n 1 | cut -c1-200)"
  fi
done
log "none of ${#SECRETS[@]} secrets appears in the registry's log"
