// `berth-bench s3`: the scale-out shape of issue 11 (see BENCHMARKS.md, "S3 + PostgreSQL").
//
// Three deployments on one radosgw and one PostgreSQL, started by bench/run.sh --shape s3:
//   Berth ×1       one `berth serve`, bucket berth-one, database berth_one
//   Berth ×3       three replicas behind nginx (round robin, as tests/scaleout/replicas.sh),
//                  bucket berth-three, database berth_three
//   Distribution   docker-registry 2.8 with its s3 driver, bucket distribution
// The scenarios of the filesystem comparison run on all three, interleaved (×1 ×3 D D ×3 ×1),
// then a garbage collection of many images on Berth ×1 and Distribution. Besides the usual
// figures, each round records the CPU of every process of the shape (the registries, nginx,
// radosgw, the Ceph OSD and monitor, PostgreSQL's backends, the load generator) and of the
// whole machine, so that the tables say where the time goes.
#pragma once

#include <cstdint>
#include <string>

#include "driver/run_support.hpp"

namespace berth::bench {

struct S3ShapeOptions : CommonOptions {
  S3ShapeOptions() { work = "build/bench/work-s3"; }
  std::string s3_endpoint;  // http://127.0.0.1:PORT
  std::string access_key = "berth-test-access";
  std::string secret_key = "berth-test-secret";
  std::string postgres_url_one;            // database of Berth ×1
  std::string postgres_url_three;          // database of Berth ×3
  std::string ceph_dir;                    // scripts/radosgw.sh's DIR: run/{rgw,osd,mon}.pid
  std::string postgres_dir;                // scripts/postgres.sh's DIR: data/postmaster.pid
  std::uint64_t gc_images = 0;             // 0: the scale's
  std::uint64_t catalog_repositories = 0;  // 0: the scale's
};

int run_s3_shape(const S3ShapeOptions& options);

}  // namespace berth::bench
