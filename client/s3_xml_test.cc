#include "client/s3_xml.h"

#include "gtest/gtest.h"

namespace jetback::s3xml {
namespace {

TEST(S3XmlTest, ElementsSkipsLongerTagNamesAndKeepsOrder) {
  const char* xml =
      "<R><KeyMarker>m</KeyMarker><Contents><Key>a</Key><Size>1</Size>"
      "</Contents><Contents><Key>b&amp;c</Key><Size>22</Size></Contents>"
      "<Empty/></R>";
  auto contents = Elements(xml, "Contents");
  ASSERT_EQ(contents.size(), 2u);
  EXPECT_EQ(Text(contents[0], "Key"), "a");
  EXPECT_EQ(Text(contents[1], "Key"), "b&c");
  EXPECT_EQ(Text(contents[1], "Size"), "22");
  EXPECT_EQ(Text(xml, "KeyMarker"), "m");
  ASSERT_EQ(Elements(xml, "Empty").size(), 1u);
  EXPECT_EQ(Text(xml, "Missing"), "");
}

TEST(S3XmlTest, EscapeAndUnescapeRoundTrip) {
  const std::string text = "\"etag\" <a> & 'b'";
  EXPECT_EQ(Escape(text), "&quot;etag&quot; &lt;a&gt; &amp; &apos;b&apos;");
  EXPECT_EQ(Unescape(Escape(text)), text);
  EXPECT_EQ(Unescape("&#65;&#x42;&#xE9;"), "AB\xC3\xA9");
}

}  // namespace
}  // namespace jetback::s3xml
