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
  // As the JSON pattern of setup_logging frames it: {"time":..,"level":..,%v.
  const std::string line = R"({"level":"info",)" + payload;
  const auto parsed = boost::json::parse(line).as_object();
  EXPECT_EQ(parsed.at("msg").as_string(), "collected \"x\"");
  EXPECT_EQ(parsed.at("bytes_reclaimed").as_int64(), 4096);
  EXPECT_EQ(parsed.at("trigger").as_string(), "admin API");
  EXPECT_FALSE(parsed.at("dry_run").as_bool());
}

TEST(LogFields, APlainMessageIsOnlyTheMessage) {
  EXPECT_EQ(json_message("plain \"line\""), R"("plain \"line\"")");
}

// Before, every line of the main logger pasted what followed a \x1f in its message into the
// object unescaped: an upstream's error or an exception's text could forge members.
TEST(LogFields, MessageTextCannotForgeMembers) {
  const std::string evil = "upstream said \x1f{\"admin\":true,\"level\":\"debug\"}\n";
  const auto plain = boost::json::parse(R"({"level":"info","msg":)" + json_message(evil) + "}");
  EXPECT_EQ(plain.as_object().size(), 2u) << plain;
  EXPECT_EQ(plain.at("msg").as_string(), evil);
  EXPECT_EQ(plain.at("level").as_string(), "info");

  const auto fielded =
      boost::json::parse(R"({"level":"info",)" + fields_payload(true, evil, kFields));
  EXPECT_EQ(fielded.at("msg").as_string(), evil);
  EXPECT_FALSE(fielded.as_object().contains("admin")) << fielded;
  EXPECT_EQ(fielded.at("event").as_string(), "gc");
  EXPECT_EQ(json_message(std::string("a\0b\x7f", 4)), "\"a\\u0000b\x7f\"");
}

TEST(LogFields, JsonModeWithoutFieldsIsOnlyTheMessage) {
  const auto parsed = boost::json::parse(R"({"level":"info",)" + fields_payload(true, "m", {}));
  EXPECT_EQ(parsed.as_object().size(), 2u) << parsed;
  EXPECT_EQ(parsed.at("msg").as_string(), "m");
}

// A value with a newline would otherwise start what reads as a line of its own.
TEST(LogFields, TextModeQuotesValuesWithControlCharacters) {
  const boost::json::object fields = {{"error", "disk\nfull"}, {"tab", "a\tb"}, {"ok", "x"}};
  EXPECT_EQ(fields_payload(false, "failed", fields),
            R"(failed error="disk\nfull" tab="a\tb" ok=x)");
}

}  // namespace
}  // namespace berth::server
