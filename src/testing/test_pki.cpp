#include "testing/test_pki.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <fstream>
#include <stdexcept>

namespace berth::testing {

KeyPtr make_key() {
  KeyPtr key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  if (!key) {
    throw std::runtime_error("cannot generate a key");
  }
  return key;
}

namespace {

void add_extension(X509* certificate, X509* issuer, int nid, const char* value) {
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, issuer, certificate, nullptr, nullptr, 0);
  X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value);
  if (extension == nullptr || X509_add_ext(certificate, extension, -1) != 1) {
    throw std::runtime_error(std::string("cannot add extension ") + value);
  }
  X509_EXTENSION_free(extension);
}

}  // namespace

// A CA certificate when issuer is null (self-signed); otherwise a server certificate for
// 127.0.0.1 and localhost signed by issuer.
CertificatePtr make_certificate(const std::string& common_name, long serial, EVP_PKEY* key,
                                X509* issuer, EVP_PKEY* issuer_key) {
  CertificatePtr certificate(X509_new(), X509_free);
  X509* raw = certificate.get();
  X509_set_version(raw, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(raw), serial);
  X509_gmtime_adj(X509_getm_notBefore(raw), -3600);
  X509_gmtime_adj(X509_getm_notAfter(raw), 24 * 3600);
  X509_set_pubkey(raw, key);
  X509_NAME* name = X509_get_subject_name(raw);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  const bool is_ca = issuer == nullptr;
  X509_set_issuer_name(raw, is_ca ? name : X509_get_subject_name(issuer));
  X509* signer = is_ca ? raw : issuer;
  if (is_ca) {
    add_extension(raw, signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(raw, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(raw, signer, NID_basic_constraints, "CA:FALSE");
    add_extension(raw, signer, NID_key_usage, "critical,digitalSignature");
    add_extension(raw, signer, NID_ext_key_usage, "serverAuth");
    add_extension(raw, signer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  }
  if (X509_sign(raw, is_ca ? key : issuer_key, EVP_sha256()) == 0) {
    throw std::runtime_error("cannot sign a certificate");
  }
  return certificate;
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return out;
}

std::string to_pem(X509* certificate) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, certificate);
  return bio_text(bio);
}

std::string to_pem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  return bio_text(bio);
}

// Written beside and renamed over, as certificate tools do: a reader never sees half a file.
void replace_file(const std::filesystem::path& path, const std::string& contents) {
  const std::filesystem::path temporary = path.string() + ".new";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << contents;
    if (!out) {
      throw std::runtime_error("cannot write " + temporary.string());
    }
  }
  std::filesystem::rename(temporary, path);
}

}  // namespace berth::testing
