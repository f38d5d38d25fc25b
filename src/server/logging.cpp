#include "server/logging.hpp"

#include <fmt/format.h>
#include <spdlog/async.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <iterator>

#include "metrics/http_metrics.hpp"
#include "server/json_text.hpp"

namespace berth::server {
namespace {

bool g_json = false;
std::shared_ptr<spdlog::logger> g_access;
// JSON only: log_fields lines, which build their whole object after the time and level.
std::shared_ptr<spdlog::logger> g_fields;

constexpr std::string_view kTimeAndLevel = R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l",)";

void put(fmt::memory_buffer& out, std::string_view text) {
  out.append(text.data(), text.data() + text.size());
}

// Writes the whole message as a JSON string, for the "msg" field of JSON log lines. Whatever
// the message holds (an upstream's error, an exception's what()) stays inside the string.
class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    append_json_string(dest, std::string_view(msg.payload.data(), msg.payload.size()));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

std::shared_ptr<spdlog::async_logger> stderr_logger(const char* name) {
  // overrun_oldest: under a flood the log drops lines rather than stalling requests.
  return std::make_shared<spdlog::async_logger>(
      name, std::make_shared<spdlog::sinks::stderr_sink_mt>(), spdlog::thread_pool(),
      spdlog::async_overflow_policy::overrun_oldest);
}

// The access line's members after the pattern's {"time":...,: written into one buffer, only the
// strings escaped (a boost::json::object cost ~28 allocations per request).
void json_access_line(fmt::memory_buffer& line, const http::AccessRecord& r, std::string_view user,
                      std::string_view route) {
  put(line, R"("level":"info","msg":"request","request_id":)");
  append_json_string(line, r.request_id);
  put(line, R"(,"method":)");
  append_json_string(line, r.method);
  put(line, R"(,"route":)");
  append_json_string(line, route);
  if (!r.repository.empty()) {
    put(line, R"(,"repository":)");
    append_json_string(line, r.repository);
  }
  put(line, R"(,"path":)");
  append_json_string(line, r.target);
  fmt::format_to(std::back_inserter(line),
                 R"(,"status":{},"bytes_in":{},"bytes_out":{},"duration_us":{},"user":)", r.status,
                 r.bytes_in, r.bytes_out, r.duration.count());
  append_json_string(line, user);
  put(line, R"(,"remote":)");
  append_json_string(line, r.remote);
  put(line, R"(,"user_agent":)");
  append_json_string(line, r.user_agent);
  line.push_back('}');
}

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
  // One sink each: in spdlog the format belongs to the sink, and the loggers format
  // differently. All write to stderr under spdlog's console mutex, in the order logged (one
  // queue, one writer thread).
  auto main = stderr_logger("berth");
  auto access = stderr_logger("access");
  if (g_json) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(std::string(kTimeAndLevel) +
                                                          R"("msg":%*})");
    main->set_formatter(std::move(formatter));
    access->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z",%v)");
    g_fields = stderr_logger("fields");
    g_fields->set_pattern(std::string(kTimeAndLevel) + "%v");
    g_fields->set_level(spdlog::level::trace);  // log_fields asks the main logger's level
    g_fields->flush_on(spdlog::level::info);
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
  for (auto* logger : {&g_access, &g_fields}) {
    if (*logger) {
      (*logger)->flush();
    }
    logger->reset();
  }
  spdlog::shutdown();
}

void log_access(const http::AccessRecord& r) {
  if (!g_access) {
    return;
  }
  const std::string_view user = r.user.empty() ? std::string_view("-") : r.user;
  const std::string_view route = metrics::route_label(r.route);
  fmt::memory_buffer line;
  if (g_json) {
    json_access_line(line, r, user, route);
  } else {
    // The user agent last and quoted: it is the one field with blanks in it.
    const double ms = static_cast<double>(r.duration.count()) / 1000.0;
    fmt::format_to(std::back_inserter(line),
                   "{} {} {} in={} out={} {:.3f}ms id={} route={} repo={} user={} remote={} ua=",
                   r.method, r.target, r.status, r.bytes_in, r.bytes_out, ms, r.request_id, route,
                   r.repository.empty() ? std::string_view("-") : r.repository, user, r.remote);
    append_json_string(line, r.user_agent);
  }
  g_access->info(std::string_view(line.data(), line.size()));
}

std::string json_message(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

std::string fields_payload(bool json, std::string_view message, const boost::json::object& fields) {
  std::string out;
  if (json) {
    // What follows {"time":...,"level":...,: the message, then the fields' members.
    out = R"("msg":)";
    append_json_string(out, message);
    if (fields.empty()) {
      out += '}';
    } else {
      out += ',';
      out += std::string_view(boost::json::serialize(fields)).substr(1);  // "...}"
    }
    return out;
  }
  out = message;
  for (const auto& [key, value] : fields) {
    out += ' ';
    out += key;
    out += '=';
    // Quoted when a reader could not tell where it ends, or when it holds a control character
    // (a newline would start what looks like another log line).
    const auto plain = [](const boost::json::string& text) {
      return !text.empty() && std::ranges::none_of(text, [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == ' ' || c == '"' || c == '=' ||
               c == 0x7f;
      });
    };
    const bool bare = value.is_string() && plain(value.get_string());
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
  const std::string payload = fields_payload(g_json, message, fields);
  // In JSON the line is built whole here (not through the main logger's message flag, which
  // escapes everything): no message text can add members to it.
  (g_json && g_fields ? g_fields : logger)->log(level, std::string_view(payload));
}

}  // namespace berth::server
