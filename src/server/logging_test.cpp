// The text of log_fields lines: figures as JSON fields beside "msg" (parsed back here the way
// a log collector would), or as key=value after the message in text mode.
#include "server/logging.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace berth::server {
namespace {

const boost::json::object kFields = {
    {"event", "gc"}, {"trigger", "admin API"}, {"bytes_reclaimed", 4096}, {"dry_run", false}};

TEST(LogFields, TextModePutsTheFieldsAfterTheMessage) {
  EXPECT_EQ(fields_payload(false, "garbage collection (admin API): 3 blobs", kFields),
            "garbage collection (admin API): 3 blobs event=gc trigger=\"admin API\" "
            "bytes_reclaimed=4096 dry_run=false");
}

TEST(LogFields, JsonModeMakesTheFieldsMembersOfTheLine) {
  const std::string payload = fields_payload(true, "collected \"x\"", kFields);
  // As the JSON pattern of setup_logging frames it: {"time":..,"level":..,"msg":%*}.
  const std::string line = R"({"level":"info","msg":)" + json_message(payload) + "}";
  const auto parsed = boost::json::parse(line).as_object();
  EXPECT_EQ(parsed.at("msg").as_string(), "collected \"x\"");
  EXPECT_EQ(parsed.at("bytes_reclaimed").as_int64(), 4096);
  EXPECT_EQ(parsed.at("trigger").as_string(), "admin API");
  EXPECT_FALSE(parsed.at("dry_run").as_bool());
}

TEST(LogFields, APlainMessageIsOnlyTheMessage) {
  EXPECT_EQ(json_message("plain \"line\""), R"("plain \"line\"")");
}

}  // namespace
}  // namespace berth::server
