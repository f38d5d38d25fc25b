// Certificates for tests: a CA made on the spot and server certificates it signs, as PEM.
// Shared by the HTTP server's TLS tests and the black-box access-control tests.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <filesystem>
#include <memory>
#include <string>

namespace berth::testing {

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertificatePtr = std::unique_ptr<X509, decltype(&X509_free)>;

// A P-256 key.
KeyPtr make_key();

// A CA certificate when issuer is null (self-signed); otherwise a server certificate for
// 127.0.0.1 and localhost signed by issuer. Valid from an hour ago for a day.
CertificatePtr make_certificate(const std::string& common_name, long serial, EVP_PKEY* key,
                                X509* issuer, EVP_PKEY* issuer_key);

// Everything a BIO holds, as text; frees the BIO.
std::string bio_text(BIO* bio);
std::string to_pem(X509* certificate);
std::string to_pem(EVP_PKEY* key);

// Written beside and renamed over, as certificate tools do: a reader never sees half a file.
void replace_file(const std::filesystem::path& path, const std::string& contents);

}  // namespace berth::testing
