// See tls_context.hpp.
#include "http/tls_context.hpp"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>
#include <cerrno>
#include <cstring>
#include <exception>
#include <string_view>
#include <system_error>
#include <utility>

namespace berth::http {

namespace {

namespace ssl = boost::asio::ssl;

// TLS 1.2 suites: ECDHE only (forward secrecy), AEAD only. TLS 1.3 keeps OpenSSL's defaults,
// which are all AEAD.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr std::string_view kHttp11 = "http/1.1";
// Certificate chains and keys are a few KiB; anything this large is the wrong file.
constexpr off_t kMaxPemSize = 1024 * 1024;

std::int64_t to_ns(const struct timespec& time) {
  return static_cast<std::int64_t>(time.tv_sec) * 1'000'000'000 + time.tv_nsec;
}

FileStamp stamp_of(const struct stat& info) {
  return FileStamp{
      .error = 0,
      .device = info.st_dev,
      .inode = info.st_ino,
      .size = info.st_size,
      .mtime_ns = to_ns(info.st_mtim),
  };
}

FileStamp stat_file(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) {
    return FileStamp{.error = errno};
  }
  return stamp_of(info);
}

struct PemFile {
  // Of the version that was read (or of the failure), to compare with later stat(2)s.
  FileStamp stamp;
  std::string contents;
  // Empty when contents were read.
  std::string error;
};

PemFile read_pem_file(const std::filesystem::path& path, std::string_view what) {
  PemFile out;
  const auto cannot_read = [&](int error) {
    return "cannot read " + std::string(what) + " file " + path.string() + ": " +
           std::generic_category().message(error);
  };
  const auto failed = [&](int error) {
    out.stamp = FileStamp{.error = error};
    out.error = cannot_read(error);
    return out;
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return failed(errno);
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    return failed(error);
  }
  out.stamp = stamp_of(info);
  if (!S_ISREG(info.st_mode) || info.st_size > kMaxPemSize) {
    ::close(fd);
    out.error =
        std::string(what) + " file " + path.string() + " is not a regular file of at most 1 MiB";
    return out;
  }
  out.contents.resize(static_cast<std::size_t>(info.st_size));
  std::size_t done = 0;
  while (done < out.contents.size()) {
    const ssize_t n = ::read(fd, out.contents.data() + done, out.contents.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      out.contents.clear();
      out.error = cannot_read(error);
      return out;
    }
    if (n == 0) {
      break;  // Shrunk while we read: what we have is checked like any other content.
    }
    done += static_cast<std::size_t>(n);
  }
  out.contents.resize(done);
  ::close(fd);
  return out;
}

// Picks "http/1.1" from the client's ALPN list. Without it we decline to choose, and the
// handshake goes on without ALPN (a client offering only h2 then learns we do not speak it).
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_length, const unsigned char* in,
                unsigned int in_length, void*) {
  unsigned int at = 0;
  while (at < in_length) {
    const unsigned int length = in[at];
    if (at + 1 + length > in_length) {
      break;
    }
    const std::string_view name(reinterpret_cast<const char*>(in + at + 1), length);
    if (name == kHttp11) {
      *out = in + at + 1;
      *out_length = static_cast<unsigned char>(length);
      return SSL_TLSEXT_ERR_OK;
    }
    at += 1 + length;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// Encrypted keys are refused: the default callback would prompt on the terminal.
int refuse_passphrase(char*, int, int, void*) { return 0; }

std::string openssl_reason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) {
    return "unknown error";
  }
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

std::expected<std::shared_ptr<ssl::context>, std::string> build_context(
    const PemFile& certificate, const std::filesystem::path& certificate_path, const PemFile& key,
    const std::filesystem::path& key_path) {
  if (!certificate.error.empty()) {
    return std::unexpected(certificate.error);
  }
  if (!key.error.empty()) {
    return std::unexpected(key.error);
  }
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return std::unexpected("cannot configure TLS: " + openssl_reason());
  }
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  // Idle keep-alive connections give their read and write buffers back.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_alpn_select_cb(native, select_alpn, nullptr);
  boost::system::error_code ec;
  context->use_certificate_chain(
      boost::asio::buffer(certificate.contents.data(), certificate.contents.size()), ec);
  if (ec) {
    return std::unexpected("cannot load certificate file " + certificate_path.string() + ": " +
                           ec.message());
  }
  // Parsed here rather than by SSL_CTX_use_PrivateKey_file so that a key that does not fit the
  // certificate is told apart from one that does not parse.
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(key.contents.data(), static_cast<int>(key.contents.size())), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> private_key(
      bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, nullptr) : nullptr,
      EVP_PKEY_free);
  if (!private_key) {
    return std::unexpected("cannot load key file " + key_path.string() +
                           " (PEM, unencrypted): " + openssl_reason());
  }
  if (X509_check_private_key(SSL_CTX_get0_certificate(native), private_key.get()) != 1) {
    ERR_clear_error();
    return std::unexpected("key file " + key_path.string() + " does not match certificate " +
                           certificate_path.string());
  }
  if (SSL_CTX_use_PrivateKey(native, private_key.get()) != 1) {
    return std::unexpected("cannot use key file " + key_path.string() + ": " + openssl_reason());
  }
  return context;
}

}  // namespace

std::expected<std::shared_ptr<ssl::context>, std::string> make_server_tls_context(
    const std::filesystem::path& certificate, const std::filesystem::path& key) {
  return build_context(read_pem_file(certificate, "certificate"), certificate,
                       read_pem_file(key, "key"), key);
}

std::expected<std::shared_ptr<TlsContextSource>, std::string> TlsContextSource::load(
    std::filesystem::path certificate, std::filesystem::path key, Warn warn) {
  std::shared_ptr<TlsContextSource> source(
      new TlsContextSource(std::move(certificate), std::move(key), std::move(warn)));
  const PemFile certificate_file = read_pem_file(source->certificate_, "certificate");
  const PemFile key_file = read_pem_file(source->key_, "key");
  auto context = build_context(certificate_file, source->certificate_, key_file, source->key_);
  if (!context) {
    return std::unexpected(context.error());
  }
  source->certificate_stamp_ = certificate_file.stamp;
  source->key_stamp_ = key_file.stamp;
  source->current_ = std::move(*context);
  return source;
}

std::shared_ptr<ssl::context> TlsContextSource::current() const {
  std::lock_guard lock(current_mutex_);
  return current_;
}

bool TlsContextSource::reload_if_changed() {
  std::lock_guard reload_lock(reload_mutex_);
  if (stat_file(certificate_) == certificate_stamp_ && stat_file(key_) == key_stamp_) {
    return false;
  }
  std::expected<std::shared_ptr<ssl::context>, std::string> context;
  try {
    const PemFile certificate_file = read_pem_file(certificate_, "certificate");
    const PemFile key_file = read_pem_file(key_, "key");
    // Remembered even when the pair is broken: it is reported once, not at every check.
    certificate_stamp_ = certificate_file.stamp;
    key_stamp_ = key_file.stamp;
    context = build_context(certificate_file, certificate_, key_file, key_);
  } catch (const std::exception& e) {
    context = std::unexpected(std::string(e.what()));
  }
  if (!context) {
    if (warn_) {
      warn_("tls: certificate reload failed, keeping the previous certificate: " + context.error());
    }
    return false;
  }
  std::lock_guard lock(current_mutex_);
  current_ = std::move(*context);
  return true;
}

}  // namespace berth::http
