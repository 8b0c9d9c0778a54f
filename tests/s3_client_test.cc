// The S3 client against the real radosgw of the test cluster: byte-identical
// round trips (one PUT and multipart), listings, deletes, aborted uploads,
// and the errors a user meets first (wrong secret, unknown key, missing
// bucket, nothing listening at the endpoint).

#include "client/s3_client.h"

#include <random>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "jetback/status.h"
#include "tests/rgw_test_util.h"

namespace jetback {
namespace {

using testing::RgwConfig;
using testing::TestBucketName;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng());
  return out;
}

class S3ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bucket_ = TestBucketName();
    absl::Status status = client_.CreateBucket(bucket_);
    ASSERT_TRUE(status.ok()) << status;
  }
  S3Client client_{RgwConfig()};
  std::string bucket_;
};

TEST_F(S3ClientTest, PutGetRoundTripWithAwkwardKey) {
  const std::string key = "dir one/a b+c=d&e%f.bin";
  const std::string data = RandomBytes(1 << 20, 1);
  ASSERT_TRUE(client_.PutObject(bucket_, key, data).ok());
  absl::StatusOr<std::string> got = client_.GetObject(bucket_, key);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data) << "got " << got->size() << " bytes";
}

TEST_F(S3ClientTest, GetStreamsToTheSinkAndStopsOnItsError) {
  const std::string data = RandomBytes(3 << 20, 2);
  ASSERT_TRUE(client_.PutObject(bucket_, "obj", data).ok());
  size_t seen = 0;
  absl::Status status =
      client_.GetObject(bucket_, "obj", [&](absl::string_view chunk) {
        seen += chunk.size();
        return seen > (1 << 20) ? JetStatus(jet::JET_errDiskFull, "sink full")
                                : absl::OkStatus();
      });
  EXPECT_EQ(JetErrOf(status), jet::JET_errDiskFull) << status;
  EXPECT_LT(seen, data.size());
}

TEST_F(S3ClientTest, MultipartRoundTripOfSeveralParts) {
  const std::string data = RandomBytes((17 << 20) + 123, 3);
  S3MultipartOptions options;
  options.part_size = 5 << 20;
  options.concurrency = 3;
  {
    S3MultipartWriter writer(&client_, bucket_, "big/object", options);
    // Appends of odd sizes, so parts fill across append boundaries.
    for (size_t off = 0; off < data.size();) {
      size_t n = std::min<size_t>(data.size() - off, 777777);
      ASSERT_TRUE(writer.Append(absl::string_view(data).substr(off, n)).ok());
      off += n;
    }
    absl::Status status = writer.Complete();
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_EQ(writer.parts(), 4);
    EXPECT_EQ(writer.size(), data.size());
  }
  absl::StatusOr<std::string> got = client_.GetObject(bucket_, "big/object");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data) << "got " << got->size() << " bytes";
  auto uploads = client_.ListMultipartUploads(bucket_, "");
  ASSERT_TRUE(uploads.ok()) << uploads.status();
  EXPECT_TRUE(uploads->empty());
}

TEST_F(S3ClientTest, SmallWriterObjectIsOnePut) {
  S3MultipartWriter writer(&client_, bucket_, "small", {});
  ASSERT_TRUE(writer.Append("hello").ok());
  ASSERT_TRUE(writer.Complete().ok());
  EXPECT_EQ(writer.parts(), 0);
  EXPECT_EQ(client_.GetObject(bucket_, "small").value_or(""), "hello");
  // An empty object too.
  S3MultipartWriter empty(&client_, bucket_, "empty", {});
  ASSERT_TRUE(empty.Complete().ok());
  auto got = client_.GetObject(bucket_, "empty");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, "");
}

TEST_F(S3ClientTest, AbortAndDestructorLeaveNoUploadAndNoObject) {
  S3MultipartOptions options;
  options.part_size = 5 << 20;
  options.concurrency = 2;
  const std::string data = RandomBytes(12 << 20, 4);
  {
    S3MultipartWriter writer(&client_, bucket_, "aborted/one", options);
    ASSERT_TRUE(writer.Append(data).ok());
    auto during = client_.ListMultipartUploads(bucket_, "aborted/");
    ASSERT_TRUE(during.ok()) << during.status();
    EXPECT_EQ(during->size(), 1u);  // the upload is really under way
    writer.Abort();
  }
  {
    S3MultipartWriter writer(&client_, bucket_, "aborted/two", options);
    ASSERT_TRUE(writer.Append(data).ok());
  }  // destroyed without Complete
  auto uploads = client_.ListMultipartUploads(bucket_, "aborted/");
  ASSERT_TRUE(uploads.ok()) << uploads.status();
  EXPECT_TRUE(uploads->empty())
      << uploads->size() << " left, first " << (*uploads)[0].key;
  auto objects = client_.ListObjects(bucket_, "aborted/");
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_TRUE(objects->empty());
}

TEST_F(S3ClientTest, ListFollowsContinuationAndPrefix) {
  for (int i = 0; i < 7; ++i) {
    ASSERT_TRUE(client_.PutObject(bucket_, absl::StrCat("set/f", i), "x").ok());
  }
  ASSERT_TRUE(client_.PutObject(bucket_, "other/f", "yy").ok());
  auto listed = client_.ListObjects(bucket_, "set/", /*max_keys=*/3);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 7u);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ((*listed)[i].key, absl::StrCat("set/f", i));
    EXPECT_EQ((*listed)[i].size, 1u);
  }
}

TEST_F(S3ClientTest, DeleteRemovesAndMissingObjectIsNotFound) {
  ASSERT_TRUE(client_.PutObject(bucket_, "gone", "abc").ok());
  ASSERT_TRUE(client_.DeleteObject(bucket_, "gone").ok());
  absl::StatusOr<std::string> got = client_.GetObject(bucket_, "gone");
  EXPECT_EQ(JetErrOf(got.status()), jet::JET_errFileNotFound);
  EXPECT_TRUE(absl::StrContains(got.status().message(), "NoSuchKey"))
      << got.status();
  EXPECT_TRUE(client_.DeleteObject(bucket_, "gone").ok());  // S3: idempotent
}

TEST_F(S3ClientTest, MissingBucketNamesTheBucket) {
  absl::Status status = client_.PutObject(bucket_ + "-missing", "k", "data");
  EXPECT_EQ(JetErrOf(status), jet::JET_errFileNotFound) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "NoSuchBucket")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), bucket_ + "-missing"))
      << status;
}

TEST_F(S3ClientTest, WrongSecretIsAccessDenied) {
  S3Config config = RgwConfig();
  config.secret_key = "not-the-secret";
  S3Client wrong(config);
  absl::Status status = wrong.PutObject(bucket_, "k", "data");
  EXPECT_EQ(JetErrOf(status), jet::JET_errAccessDenied) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "SignatureDoesNotMatch"))
      << status;
  EXPECT_EQ(JetErrOf(client_.GetObject(bucket_, "k").status()),
            jet::JET_errFileNotFound);  // nothing was written
}

TEST_F(S3ClientTest, UnknownAccessKeyIsAccessDenied) {
  S3Config config = RgwConfig();
  config.access_key = "NOSUCHKEY";
  S3Client wrong(config);
  auto listed = wrong.ListObjects(bucket_, "");
  EXPECT_EQ(JetErrOf(listed.status()), jet::JET_errAccessDenied)
      << listed.status();
  EXPECT_TRUE(
      absl::StrContains(listed.status().message(), "InvalidAccessKeyId"))
      << listed.status();
}

TEST(S3ClientUnreachableTest, RetriesThenNamesTheEndpoint) {
  S3Config config = RgwConfig();
  config.endpoint = "http://127.0.0.1:1";  // nothing listens on port 1
  config.max_attempts = 3;
  config.initial_backoff = absl::Milliseconds(10);
  S3Client client(config);
  absl::Status status = client.PutObject("bucket", "k", "data");
  EXPECT_EQ(JetErrOf(status), jet::JET_errDiskIO) << status;
  EXPECT_TRUE(absl::StrContains(status.message(),
                                "S3 endpoint http://127.0.0.1:1 unreachable"))
      << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "after 3 attempts"))
      << status;
}

}  // namespace
}  // namespace jetback
