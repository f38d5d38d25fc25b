#include "server/logging.hpp"

#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

#include "metrics/http_metrics.hpp"

namespace berth::server {
namespace {

bool g_json = false;
std::shared_ptr<spdlog::logger> g_access;

// Separates a log_fields message from its fields in the payload handed to spdlog (a control
// character: messages never carry one, log_events.hpp's printable() escapes them in names).
constexpr char kFieldsMark = '\x1f';

// Writes the message as a JSON string, for the "msg" field of JSON log lines, followed by the
// fields of a log_fields line (their object's members, after a comma).
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const auto text = json_message(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

}  // namespace

void setup_logging(const std::string& format, const std::string& level) {
  g_json = format == "json";
  if (!spdlog::thread_pool()) {
    // Each queued line takes ~400 bytes, allocated up front: 2048 slots are 0.8 MB of the
    // idle footprint (8192 were 3.2 MB, the largest private mapping of an idle server). The
    // queue only absorbs the writer's short stalls: the writer formats and writes lines faster
    // than requests arrive, so it stays near empty even at peak load.
    spdlog::init_thread_pool(2048, 1);
  }
  // One sink each: in spdlog the format belongs to the sink, and the two loggers format
  // differently. Both write to stderr under spdlog's console mutex.
  // overrun_oldest: under a flood the log drops lines rather than stalling requests.
  auto main = std::make_shared<spdlog::async_logger>(
      "berth", std::make_shared<spdlog::sinks::stderr_sink_mt>(), spdlog::thread_pool(),
      spdlog::async_overflow_policy::overrun_oldest);
  auto access = std::make_shared<spdlog::async_logger>(
      "access", std::make_shared<spdlog::sinks::stderr_sink_mt>(), spdlog::thread_pool(),
      spdlog::async_overflow_policy::overrun_oldest);
  if (g_json) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","msg":%*})");
    main->set_formatter(std::move(formatter));
    access->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z",%v)");
  } else {
    main->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
    access->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z access %v");
  }
  main->set_level(spdlog::level::from_str(level));
  access->set_level(spdlog::level::info);
  main->flush_on(spdlog::level::info);
  access->flush_on(spdlog::level::info);
  spdlog::set_default_logger(main);
  g_access = access;
}

void shutdown_logging() {
  spdlog::default_logger()->flush();
  if (g_access) {
    g_access->flush();
  }
  g_access.reset();
  spdlog::shutdown();
}

void log_access(const http::AccessRecord& r) {
  if (!g_access) {
    return;
  }
  const double ms = static_cast<double>(r.duration.count()) / 1000.0;
  const std::string_view user = r.user.empty() ? std::string_view("-") : r.user;
  const std::string_view route = metrics::route_label(r.route);
  if (g_json) {
    boost::json::object line;
    line["level"] = "info";
    line["msg"] = "request";
    line["request_id"] = r.request_id;
    line["method"] = r.method;
    line["route"] = route;
    if (!r.repository.empty()) {
      line["repository"] = r.repository;
    }
    line["path"] = r.target;
    line["status"] = r.status;
    line["bytes_in"] = r.bytes_in;
    line["bytes_out"] = r.bytes_out;
    line["duration_us"] = r.duration.count();
    line["user"] = user;
    line["remote"] = r.remote;
    line["user_agent"] = r.user_agent;
    // The pattern opens the object with the time; the fields follow without their "{".
    auto fields = boost::json::serialize(line);
    g_access->info(std::string_view(fields).substr(1));
  } else {
    // The user agent last and quoted: it is the one field with blanks in it.
    g_access->info("{} {} {} in={} out={} {:.3f}ms id={} route={} repo={} user={} remote={} ua={}",
                   r.method, r.target, r.status, r.bytes_in, r.bytes_out, ms, r.request_id, route,
                   r.repository.empty() ? std::string_view("-") : r.repository, user, r.remote,
                   boost::json::serialize(boost::json::string(r.user_agent)));
  }
}

std::string json_message(std::string_view payload) {
  std::string_view fields;
  if (auto mark = payload.find(kFieldsMark); mark != std::string_view::npos) {
    fields = payload.substr(mark + 1);
    payload = payload.substr(0, mark);
  }
  std::string out = boost::json::serialize(boost::json::string(payload));
  // fields is a serialized object, "{...}": its members go after the message.
  if (fields.size() > 2) {
    out += ',';
    out += fields.substr(1, fields.size() - 2);
  }
  return out;
}

std::string fields_payload(bool json, std::string_view message, const boost::json::object& fields) {
  std::string out(message);
  if (json) {
    out += kFieldsMark;
    out += boost::json::serialize(fields);
    return out;
  }
  for (const auto& [key, value] : fields) {
    out += ' ';
    out += key;
    out += '=';
    const bool bare = value.is_string() && !value.get_string().empty() &&
                      value.get_string().find_first_of(" \t\"=") == boost::json::string::npos;
    out += bare ? std::string(value.get_string()) : boost::json::serialize(value);
  }
  return out;
}

void log_fields(spdlog::level::level_enum level, std::string_view message,
                const boost::json::object& fields) {
  const auto logger = spdlog::default_logger();
  if (!logger->should_log(level)) {
    return;
  }
  logger->log(level, "{}", fields_payload(g_json, message, fields));
}

}  // namespace berth::server
