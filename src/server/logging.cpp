#include "server/logging.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <memory>
#include <string>

#include "metrics/http_metrics.hpp"
#include "server/json_text.hpp"
#include "server/log_writer.hpp"

namespace berth::server {
namespace {

bool g_json = false;
std::shared_ptr<spdlog::logger> g_access;
// JSON only: log_fields lines, which build their whole object after the time and level.
std::shared_ptr<spdlog::logger> g_fields;
// Writes every logger's lines to stderr, in the order logged.
std::shared_ptr<LogWriter> g_writer;

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

std::shared_ptr<spdlog::logger> stderr_logger(const char* name) {
  return std::make_shared<spdlog::logger>(name, std::make_shared<LogWriterSink>(g_writer));
}

// Under a flood that stderr's reader cannot keep up with, the log drops lines rather than
// stalling requests, and says so once it catches up.
std::string dropped_lines_line(std::uint64_t count) {
  const auto now = std::chrono::system_clock::now();
  if (g_json) {
    return fmt::format(R"({{"time":"{:%Y-%m-%dT%H:%M:%S}Z","level":"warning","msg":)"
                       R"("log lines dropped: stderr did not keep up","dropped":{}}})"
                       "\n",
                       std::chrono::floor<std::chrono::milliseconds>(now), count);
  }
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}Z warning {} log lines dropped: stderr did not keep up\n",
                     std::chrono::floor<std::chrono::milliseconds>(now), count);
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
  put(line, R"(,"client":)");
  append_json_string(line, r.client);
  put(line, R"(,"user_agent":)");
  append_json_string(line, r.user_agent);
  line.push_back('}');
}

}  // namespace

void setup_logging(const std::string& format, const std::string& level) {
  g_json = format == "json";
  if (!g_writer) {
    g_writer = std::make_shared<LogWriter>(LogWriter::Options{.dropped_line = dropped_lines_line});
  }
  // One sink each: in spdlog the format belongs to the sink, and the loggers format
  // differently. All hand their lines to one writer, which writes them in the order logged.
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
  } else {
    main->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
    access->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z access %v");
  }
  main->set_level(spdlog::level::from_str(level));
  access->set_level(spdlog::level::info);
  spdlog::set_default_logger(main);
  g_access = access;
}

void shutdown_logging() {
  g_access.reset();
  g_fields.reset();
  spdlog::shutdown();
  // The loggers are gone, so nothing appends any more: the writer writes what waits and stops.
  g_writer.reset();
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
    fmt::format_to(
        std::back_inserter(line),
        "{} {} {} in={} out={} {:.3f}ms id={} route={} repo={} user={} remote={} client={} ua=",
        r.method, r.target, r.status, r.bytes_in, r.bytes_out, ms, r.request_id, route,
        r.repository.empty() ? std::string_view("-") : r.repository, user, r.remote, r.client);
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
