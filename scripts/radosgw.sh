#!/usr/bin/env bash
# A throwaway Ceph radosgw (one monitor, one memstore OSD, the S3 gateway) on 127.0.0.1, for
# the S3 driver's tests. No systemd, no cephx; everything lives under DIR.
#   scripts/radosgw.sh start DIR   prints the S3 endpoint (also written to DIR/endpoint)
#   scripts/radosgw.sh stop DIR    stops the daemons started in DIR
# Needs the Debian packages radosgw ceph-mon ceph-osd ceph-common (scripts/deps.sh test).
# Takes ~15 s and ~450 MB. S3 user: access key berth-test-access, secret berth-test-secret.
# Objects live in the OSD's memory: RADOSGW_MEMSTORE_BYTES (default 4 GiB) caps what it holds.
#
# Ports: the monitor and the gateway need fixed ones in their config, so the script draws them
# at random from 20000-29999 and draws again if a daemon cannot bind (another run, another
# test). Ceph itself picks the OSD's ports from a range and skips busy ones.
# Required settings learnt the hard way: `ms bind msgr1 = false` and `ms mon client mode =
# secure crc`, or clients hang; `radosgw-admin user create` works only once the OSD is up.
set -euo pipefail

readonly ACCESS_KEY=berth-test-access
readonly SECRET_KEY=berth-test-secret

log() { echo "radosgw.sh: $*" >&2; }

wait_for() {  # wait_for SECONDS COMMAND...: true once COMMAND succeeds
  local deadline=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

write_conf() {  # write_conf DIR MON_PORT RGW_PORT
  local dir=$1 fsid
  fsid=$(cat /proc/sys/kernel/random/uuid)
  cat >"$dir/ceph.conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$2]
mon initial members = a
public network = 127.0.0.0/8
ms bind msgr1 = false
ms bind ipv6 = false
ms bind port min = 30000
ms bind port max = 32000
ms mon client mode = secure crc
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
keyring = $dir/keyring
run dir = $dir/run
admin socket = $dir/run/\$name.asok
log file = $dir/log/\$name.log
crash dir = $dir/crash
mon data = $dir/mon/\$cluster-\$id
osd data = $dir/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = ${RADOSGW_MEMSTORE_BYTES:-4294967296}
osd memory target = 939524096
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd op num shards = 2
osd op num threads per shard = 2
mon data avail warn = 1
mon data avail crit = 0
debug ms = 0
[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$3
rgw thread pool size = 64
rgw dns name = localhost
CONF
  echo "$fsid"
}

start_mon() {  # start_mon DIR FSID MON_PORT
  local dir=$1
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$dir/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
    --cap mgr 'allow *' >/dev/null
  monmaptool --create --addv a "[v2:127.0.0.1:$3]" --fsid "$2" "$dir/monmap" >/dev/null
  ceph-mon --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/keyring" >"$dir/log/mon-mkfs.out" 2>&1
  ceph-mon -i a -f >"$dir/log/mon.out" 2>&1 &
  echo $! >"$dir/run/mon.pid"
  wait_for 30 ceph --connect-timeout 2 mon stat
}

start_osd() {
  local dir=$1 uuid id
  uuid=$(cat /proc/sys/kernel/random/uuid)
  id=$(ceph osd new "$uuid")
  mkdir -p "$dir/osd/ceph-$id"
  ceph-osd -i "$id" --mkfs --osd-uuid "$uuid" >"$dir/log/osd-mkfs.out" 2>&1
  ceph-osd -i "$id" -f >"$dir/log/osd.out" 2>&1 &
  echo $! >"$dir/run/osd.pid"
  wait_for 60 bash -c 'ceph osd stat | grep -q "1 up"'
}

start_rgw() {  # start_rgw DIR RGW_PORT
  local dir=$1
  radosgw -n client.rgw.a -f >"$dir/log/rgw.out" 2>&1 &
  echo $! >"$dir/run/rgw.pid"
  radosgw-admin user create --uid=berth --display-name=berth --access-key="$ACCESS_KEY" \
    --secret-key="$SECRET_KEY" >"$dir/log/user.json" 2>"$dir/log/user.err"
  wait_for 60 curl -sf -o /dev/null "http://127.0.0.1:$2/"
}

stop() {
  local dir=$1 pid
  for name in rgw osd mon; do
    if [[ -f "$dir/run/$name.pid" ]]; then
      pid=$(cat "$dir/run/$name.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$dir/run/$name.pid"
    fi
  done
}

start() {
  local dir=$1 attempt mon_port rgw_port fsid
  export CEPH_CONF="$dir/ceph.conf"
  for attempt in 1 2 3; do
    stop "$dir"
    rm -rf "$dir"
    mkdir -p "$dir"/{mon,osd,run,log,crash}
    mon_port=$((20000 + RANDOM % 10000))
    rgw_port=$((20000 + RANDOM % 10000))
    fsid=$(write_conf "$dir" "$mon_port" "$rgw_port")
    if start_mon "$dir" "$fsid" "$mon_port" && start_osd "$dir" && start_rgw "$dir" "$rgw_port"; then
      echo "http://127.0.0.1:$rgw_port" | tee "$dir/endpoint"
      return 0
    fi
    log "attempt $attempt failed (ports $mon_port, $rgw_port); logs in $dir/log"
    tail -n 5 "$dir"/log/*.out >&2 || true
  done
  stop "$dir"
  return 1
}

case "${1:-}" in
  start) start "${2:?usage: radosgw.sh start DIR}" ;;
  stop) stop "${2:?usage: radosgw.sh stop DIR}" ;;
  *)
    echo "usage: radosgw.sh start|stop DIR" >&2
    exit 2
    ;;
esac
