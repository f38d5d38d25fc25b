// Reference::parse: a manifest URL's <reference>, a tag or a digest.
#include <string>

#include "core/names.hpp"
#include "fuzz_check.hpp"

using berth::core::Digest;
using berth::core::ErrorCode;
using berth::core::Reference;
using berth::core::Tag;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = berth::fuzz::as_text(data, size);
  const bool has_colon = text.find(':') != std::string_view::npos;

  auto ref = Reference::parse(text);
  if (ref) {
    FUZZ_CHECK(ref->str() == text);
    FUZZ_CHECK(ref->is_tag() != ref->is_digest());
    FUZZ_CHECK(ref->is_digest() == has_colon);
    if (ref->is_tag()) {
      auto tag = Tag::parse(text);
      FUZZ_CHECK(tag && *tag == ref->tag());
    } else {
      auto digest = Digest::parse(text);
      FUZZ_CHECK(digest && *digest == ref->digest());
    }
    auto again = Reference::parse(ref->str());
    FUZZ_CHECK(again && again->str() == ref->str() && again->is_tag() == ref->is_tag());
  } else {
    // The error names what the text looked like.
    FUZZ_CHECK(ref.error().code ==
               (has_colon ? ErrorCode::kDigestInvalid : ErrorCode::kTagInvalid));
    FUZZ_CHECK(!(has_colon ? Digest::parse(text).has_value() : Tag::parse(text).has_value()));
  }
  return 0;
}
