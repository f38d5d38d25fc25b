// The little XML that S3 answers with (ListBucketResult, Error, InitiateMultipartUploadResult,
// CopyObjectResult, ...), read into a tree. Enough XML for that and no more: elements, text,
// the five named entities and numeric references, CDATA; attributes, comments, processing
// instructions and the prolog are skipped, namespace prefixes dropped. Anything malformed is
// nullopt. Depth and size are bounded by the caller's body limit and kMaxDepth.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace berth::storage::s3 {

struct XmlNode {
  std::string name;
  // The element's own text (between its children), entities decoded.
  std::string text;
  std::vector<XmlNode> children;

  // The first child named `name`, or nullptr.
  const XmlNode* child(std::string_view name) const;
  // That child's text, or empty.
  std::string_view child_text(std::string_view name) const;
  // Every child named `name`, in order.
  std::vector<const XmlNode*> all(std::string_view name) const;
};

// The document's root element.
[[nodiscard]] std::optional<XmlNode> parse_xml(std::string_view document);
// Text escaped for an element's content.
[[nodiscard]] std::string xml_escape(std::string_view text);

}  // namespace berth::storage::s3
