#include "proxy_support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "auth/password.hpp"
#include "registry_client.hpp"
#include "testing/http_client.hpp"

namespace berth::testing {

std::string basic_header(const std::string& user, const std::string& password) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string in = user + ":" + password;
  std::string out;
  unsigned value = 0;
  int bits = -6;
  for (unsigned char c : in) {
    value = (value << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(kAlphabet[(value >> bits) & 0x3f]);
      bits -= 6;
    }
  }
  if (bits > -6) {
    out.push_back(kAlphabet[((value << 8) >> (bits + 8)) & 0x3f]);
  }
  while (out.size() % 4 != 0) {
    out.push_back('=');
  }
  return "Basic " + out;
}

DistributionProcess::DistributionProcess() {
  auto hash = auth::hash_password(kUpstreamPassword, 4);
  if (!hash) {
    throw std::runtime_error("bcrypt failed: " + hash.error().message);
  }
  std::ofstream(dir_.path() / "htpasswd") << kUpstreamUser << ":" << *hash << "\n";
  start();
}

DistributionProcess::~DistributionProcess() { kill(); }

void DistributionProcess::write_config() const {
  std::ofstream(dir_.path() / "config.yml")
      << "version: 0.1\n"
         "log:\n  level: info\n  accesslog:\n    disabled: false\n"
         "storage:\n  filesystem:\n    rootdirectory: "
      << (dir_.path() / "data").string()
      << "\n  delete:\n    enabled: true\n"
         "http:\n  addr: 127.0.0.1:"
      << port_ << "\nauth:\n  htpasswd:\n    realm: upstream\n    path: "
      << (dir_.path() / "htpasswd").string() << "\n";
}

void DistributionProcess::start() {
  write_config();
  const auto config = (dir_.path() / "config.yml").string();
  const auto log_path = (dir_.path() / "registry.log").string();
  // This start's lines of the log (it is appended to across restarts).
  const std::size_t log_start = log().size();
  pid_ = fork();
  if (pid_ < 0) {
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    execlp("docker-registry", "docker-registry", "serve", config.c_str(), nullptr);
    _exit(127);
  }
  // Distribution logs the address it listens on once it does: msg="listening on 127.0.0.1:N".
  const std::string listening = "listening on 127.0.0.1:";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string text = log().substr(log_start);
    const auto at = text.find(listening);
    // The closing quote: the line is whole.
    if (at != std::string::npos && text.find('"', at) != std::string::npos) {
      const auto port = static_cast<unsigned short>(std::stoul(text.substr(at + listening.size())));
      if (port_ != 0 && port != port_) {
        throw std::runtime_error("docker-registry listens on " + std::to_string(port) + ", not " +
                                 std::to_string(port_));
      }
      port_ = port;
      HttpClient probe("127.0.0.1", port_);
      if (probe.get("/v2/").status != 401) {
        throw std::runtime_error("docker-registry does not ask for credentials:\n" + log());
      }
      return;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("docker-registry exited:\n" + log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("docker-registry did not listen within 30 s:\n" + log());
}

void DistributionProcess::kill() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
}

std::string DistributionProcess::log() const {
  std::ifstream in(dir_.path() / "registry.log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int DistributionProcess::count(const std::string& method, const std::string& path,
                               const std::string& status) const {
  // Access log lines: 127.0.0.1 - - [date] "GET /v2/... HTTP/1.1" 200 ...
  std::string needle = "\"" + method + " " + path + " HTTP/1.1\"";
  if (!status.empty()) {
    needle += " " + status + " ";
  }
  const std::string text = log();
  int n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

std::filesystem::path write_proxy_config(const std::filesystem::path& dir,
                                         const std::string& project, const std::string& upstream,
                                         const std::string& extra_proxy_keys,
                                         const std::string& user, const std::string& password) {
  const auto path = dir / ("proxy-" + project + ".yaml");
  std::ofstream out(path);
  out << "proxies:\n"
      << "  - project: " << project << "\n"
      << "    upstream: " << upstream << "\n";
  if (!user.empty()) {
    out << "    username: " << user << "\n"
        << "    password: " << password << "\n";
  }
  out << extra_proxy_keys;
  return path;
}

// One blob into Distribution: POST, then a PUT ?digest= with the whole body (it has no
// monolithic POST).
namespace {

std::string push_upstream_blob(RegistryClient& pusher, const std::string& repo,
                               const std::string& bytes) {
  const std::string location = pusher.start_upload(repo);
  const std::string digest = sha256_digest(bytes);
  const char separator = location.find('?') == std::string::npos ? '?' : '&';
  auto put = pusher.http().put(location + separator + "digest=" + digest, bytes,
                               {{"Content-Type", "application/octet-stream"}});
  if (put.status != 201) {
    throw RegistryClientError("upstream blob PUT: " + describe(put));
  }
  return digest;
}

}  // namespace

PushedImage push_upstream(DistributionProcess& upstream, const std::string& repo,
                          const std::string& tag, std::size_t layers, std::size_t layer_size) {
  RegistryClient pusher("127.0.0.1", upstream.port());
  pusher.http().set_default_headers(
      {{"Authorization", basic_header(kUpstreamUser, kUpstreamPassword)}});
  PushedImage image;
  image.media_type = std::string(media_types::kOciManifest);
  image.config.bytes = R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers"},)"
                       R"("config":{"Labels":{"t":")" +
                       random_token(16) + R"("}}})";
  image.config.digest = push_upstream_blob(pusher, repo, image.config.bytes);
  std::vector<Descriptor> descriptors;
  for (std::size_t i = 0; i < layers; ++i) {
    PushedBlob layer;
    layer.bytes = random_bytes(layer_size);
    layer.digest = push_upstream_blob(pusher, repo, layer.bytes);
    descriptors.push_back(describe(media_types::kOciLayer, layer.bytes));
    image.layers.push_back(std::move(layer));
  }
  image.manifest =
      make_image_manifest(describe(media_types::kOciConfig, image.config.bytes), descriptors);
  image.digest = pusher.push_manifest(repo, tag, image.manifest, media_types::kOciManifest);
  image.descriptor = describe(media_types::kOciManifest, image.manifest);
  return image;
}

}  // namespace berth::testing
