// Starting and stopping scripts/radosgw.sh (radosgw.hpp).
#include "testing/radosgw.hpp"

namespace berth::testing {

Radosgw::Radosgw()
    : service_(ScriptServiceSpec{.script = "radosgw",
                                 .program = "radosgw",
                                 .package = "radosgw",
                                 .env = "BERTH_TEST_S3_ENDPOINT"}) {}

}  // namespace berth::testing
