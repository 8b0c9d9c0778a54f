// File: client/s3_xml.h (internal)
//
// Just enough XML for S3 responses: the text of flat elements such as
// <Key>, <UploadId> and <Code>, and the blocks of repeated ones such as
// <Contents> and <Upload>. S3 responses have no attributes we need, no
// CDATA and no nesting of an element inside one with the same name.

#ifndef JETBACK_CLIENT_S3_XML_H_
#define JETBACK_CLIENT_S3_XML_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace jetback::s3xml {

// The raw (still escaped) content of every <tag>...</tag> in `xml`, in
// order. <tag/> counts as empty content.
std::vector<absl::string_view> Elements(absl::string_view xml,
                                        absl::string_view tag);

// The unescaped text of the first <tag> element; empty when there is none.
std::string Text(absl::string_view xml, absl::string_view tag);

// &amp; &lt; &gt; &quot; &apos; and numeric references decoded.
std::string Unescape(absl::string_view text);
// The five predefined entities encoded.
std::string Escape(absl::string_view text);

}  // namespace jetback::s3xml

#endif  // JETBACK_CLIENT_S3_XML_H_
