// A recursive-descent reader for the XML subset of s3_xml.hpp.
#include "storage/s3_xml.hpp"

#include <cstdint>

namespace berth::storage::s3 {
namespace {

constexpr int kMaxDepth = 32;

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == ':';
}

void append_utf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out += static_cast<char>(code);
  } else if (code < 0x800) {
    out += static_cast<char>(0xc0 | (code >> 6));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else if (code < 0x10000) {
    out += static_cast<char>(0xe0 | (code >> 12));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (code >> 18));
    out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (code & 0x3f));
  }
}

class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}

  std::optional<XmlNode> document() {
    skip_misc();
    XmlNode root;
    if (!element(root, 0)) {
      return std::nullopt;
    }
    skip_misc();
    if (pos_ != text_.size()) {
      return std::nullopt;
    }
    return root;
  }

 private:
  bool starts(std::string_view what) const { return text_.substr(pos_).starts_with(what); }

  bool skip_past(std::string_view end) {
    const auto found = text_.find(end, pos_);
    if (found == std::string_view::npos) {
      return false;
    }
    pos_ = found + end.size();
    return true;
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }

  // Whitespace, comments, processing instructions and declarations between elements.
  void skip_misc() {
    while (true) {
      skip_space();
      if (starts("<?")) {
        if (!skip_past("?>")) {
          return;
        }
      } else if (starts("<!--")) {
        if (!skip_past("-->")) {
          return;
        }
      } else if (starts("<!") && !starts("<![CDATA[")) {
        if (!skip_past(">")) {
          return;
        }
      } else {
        return;
      }
    }
  }

  std::string name() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && is_name_char(text_[pos_])) {
      ++pos_;
    }
    std::string_view full = text_.substr(start, pos_ - start);
    if (auto colon = full.rfind(':'); colon != std::string_view::npos) {
      full = full.substr(colon + 1);
    }
    return std::string(full);
  }

  bool entity(std::string& out) {
    const auto end = text_.find(';', pos_);
    if (end == std::string_view::npos || end - pos_ > 12) {
      return false;
    }
    const std::string_view ref = text_.substr(pos_ + 1, end - pos_ - 1);
    pos_ = end + 1;
    if (ref == "amp") {
      out += '&';
    } else if (ref == "lt") {
      out += '<';
    } else if (ref == "gt") {
      out += '>';
    } else if (ref == "quot") {
      out += '"';
    } else if (ref == "apos") {
      out += '\'';
    } else if (ref.size() > 1 && ref[0] == '#') {
      const bool hex = ref[1] == 'x' || ref[1] == 'X';
      std::uint32_t code = 0;
      const std::string_view digits = ref.substr(hex ? 2 : 1);
      if (digits.empty()) {
        return false;
      }
      for (char c : digits) {
        std::uint32_t digit = 0;
        if (c >= '0' && c <= '9') {
          digit = static_cast<std::uint32_t>(c - '0');
        } else if (hex && c >= 'a' && c <= 'f') {
          digit = static_cast<std::uint32_t>(c - 'a' + 10);
        } else if (hex && c >= 'A' && c <= 'F') {
          digit = static_cast<std::uint32_t>(c - 'A' + 10);
        } else {
          return false;
        }
        code = code * (hex ? 16 : 10) + digit;
        if (code > 0x10ffff) {
          return false;
        }
      }
      append_utf8(out, code);
    } else {
      return false;
    }
    return true;
  }

  bool element(XmlNode& node, int depth) {
    if (depth > kMaxDepth || !starts("<")) {
      return false;
    }
    ++pos_;
    node.name = name();
    if (node.name.empty()) {
      return false;
    }
    // Attributes are skipped, quoted values included (they may hold '>').
    while (pos_ < text_.size() && text_[pos_] != '>' && text_[pos_] != '/') {
      const char c = text_[pos_++];
      if (c == '"' || c == '\'') {
        const auto close = text_.find(c, pos_);
        if (close == std::string_view::npos) {
          return false;
        }
        pos_ = close + 1;
      }
    }
    if (starts("/>")) {
      pos_ += 2;
      return true;
    }
    if (!starts(">")) {
      return false;
    }
    ++pos_;
    return content(node, depth);
  }

  bool content(XmlNode& node, int depth) {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '&') {
        if (!entity(node.text)) {
          return false;
        }
      } else if (c != '<') {
        node.text += c;
        ++pos_;
      } else if (starts("</")) {
        pos_ += 2;
        if (name() != node.name) {
          return false;
        }
        skip_space();
        if (!starts(">")) {
          return false;
        }
        ++pos_;
        return true;
      } else if (starts("<![CDATA[")) {
        const std::size_t start = pos_ + 9;
        if (!skip_past("]]>")) {
          return false;
        }
        node.text.append(text_.substr(start, pos_ - 3 - start));
      } else if (starts("<!--") || starts("<?")) {
        if (!skip_past(starts("<!--") ? "-->" : "?>")) {
          return false;
        }
      } else {
        node.children.emplace_back();
        if (!element(node.children.back(), depth + 1)) {
          return false;
        }
      }
    }
    return false;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

const XmlNode* XmlNode::child(std::string_view wanted) const {
  for (const XmlNode& node : children) {
    if (node.name == wanted) {
      return &node;
    }
  }
  return nullptr;
}

std::string_view XmlNode::child_text(std::string_view wanted) const {
  const XmlNode* node = child(wanted);
  return node == nullptr ? std::string_view() : std::string_view(node->text);
}

std::vector<const XmlNode*> XmlNode::all(std::string_view wanted) const {
  std::vector<const XmlNode*> out;
  for (const XmlNode& node : children) {
    if (node.name == wanted) {
      out.push_back(&node);
    }
  }
  return out;
}

std::optional<XmlNode> parse_xml(std::string_view document) { return Reader(document).document(); }

std::string xml_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace berth::storage::s3
