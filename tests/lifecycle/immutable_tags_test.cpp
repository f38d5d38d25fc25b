// Immutable tags over HTTP, with access control on: an administrator sets a project's patterns
// through PUT /api/v1/projects/{p}/settings (an owner or a writer may not: they are an
// administrator's rule); pushing another manifest over a tag that matches is refused with DENIED
// naming the tag and the pattern, pushing the same manifest again is no change and is allowed,
// other tags move freely; deleting a protected tag, or the manifest it names by digest, needs an
// administrator (a maintainer, who may delete other tags, is refused, and so is an owner); once
// the administrator has deleted it, the tag may be pushed anew. Retention never deletes it. Of
// several pushes of a new immutable tag at once, exactly one is acknowledged.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>

#include "auth_support.hpp"
#include "lifecycle_support.hpp"

namespace berth::testing::lifecycle {
namespace {

using authtest::AuthServer;
using authtest::AuthServerOptions;
using authtest::basic_auth;

constexpr char kOwnerPassword[] = "owner-password-1";
constexpr char kMaintainerPassword[] = "maintainer-password-1";
constexpr char kWriterPassword[] = "writer-password-1";

std::string message_of(const HttpResponse& response) {
  const auto body = json_object(response.body);
  return std::string(body.at("errors").as_array().at(0).as_object().at("message").as_string());
}

TEST(ImmutableTags, OverwriteIsDeniedAndDeletingNeedsAnAdministrator) {
  AuthServerOptions options;
  options.users = {
      {"owner1", kOwnerPassword}, {"maint1", kMaintainerPassword}, {"writer1", kWriterPassword}};
  AuthServer server(options);
  server.create_project("imm", false);
  server.set_member("imm", "owner1", "owner");
  server.set_member("imm", "maint1", "maintainer");
  server.set_member("imm", "writer1", "writer");

  RegistryClient owner("127.0.0.1", server.port());
  authtest::use_authorization(owner.http(), basic_auth("owner1", kOwnerPassword));
  RegistryClient maintainer("127.0.0.1", server.port());
  authtest::use_authorization(maintainer.http(), basic_auth("maint1", kMaintainerPassword));
  RegistryClient writer("127.0.0.1", server.port());
  authtest::use_authorization(writer.http(), basic_auth("writer1", kWriterPassword));
  RegistryClient admin("127.0.0.1", server.port());
  authtest::use_authorization(admin.http(), server.admin_basic());
  const std::string repo = "imm/app";
  const std::string settings = R"({"immutable_tags":["v*","release-?"]})";

  // Only an administrator sets the patterns.
  const auto by_writer = AdminApi(writer.http()).put_settings("imm", settings);
  EXPECT_EQ(by_writer.status, 403u) << describe(by_writer);
  EXPECT_EQ(error_code(by_writer), "DENIED") << describe(by_writer);
  const auto by_owner = AdminApi(owner.http()).put_settings("imm", settings);
  EXPECT_EQ(by_owner.status, 403u) << describe(by_owner);
  const auto by_admin = AdminApi(admin.http()).put_settings("imm", settings);
  ASSERT_EQ(by_admin.status, 200u) << describe(by_admin);
  const auto stored = json_object(owner.http().get("/api/v1/projects/imm/settings").body);
  EXPECT_EQ(boost::json::serialize(stored.at("immutable_tags")), R"(["release-?","v*"])");

  const auto first =
      writer.push_image(repo, "v1", ImageOptions().with_layers(1).with_layer_size(64));
  const auto second =
      writer.push_image(repo, "", ImageOptions().with_layers(1).with_layer_size(64));

  // Another manifest over v1: DENIED, saying which tag, which pattern, and what it names.
  const auto overwrite = writer.http().put("/v2/" + repo + "/manifests/v1", second.manifest,
                                           {{"Content-Type", second.media_type}});
  EXPECT_EQ(overwrite.status, 403u) << describe(overwrite);
  EXPECT_EQ(error_code(overwrite), "DENIED") << describe(overwrite);
  const std::string message = message_of(overwrite);
  EXPECT_NE(message.find("'v1'"), std::string::npos) << message;
  EXPECT_NE(message.find("immutable"), std::string::npos) << message;
  EXPECT_NE(message.find("'v*'"), std::string::npos) << message;
  EXPECT_NE(message.find(first.digest), std::string::npos) << message;
  // Not even the owner may overwrite it.
  const auto owner_overwrite = owner.http().put("/v2/" + repo + "/manifests/v1", second.manifest,
                                                {{"Content-Type", second.media_type}});
  EXPECT_EQ(owner_overwrite.status, 403u) << describe(owner_overwrite);
  EXPECT_EQ(writer.get_manifest(repo, "v1").body, first.manifest);

  // The same manifest again is no change; one manifest may get several protected tags.
  EXPECT_EQ(writer.push_manifest(repo, "v1", first.manifest, first.media_type), first.digest);
  EXPECT_EQ(writer.push_manifest(repo, "release-1", first.manifest, first.media_type),
            first.digest);
  // Tags that match no pattern move freely ("release-10" is not "release-?").
  for (const auto* image : {&first, &second, &first}) {
    writer.push_manifest(repo, "latest", image->manifest, image->media_type);
    writer.push_manifest(repo, "release-10", image->manifest, image->media_type);
  }
  EXPECT_EQ(writer.get_manifest(repo, "latest").body, first.manifest);

  // Deleting a protected tag, or its manifest by digest, needs an administrator.
  for (const std::string& reference : {std::string("v1"), first.digest}) {
    for (auto* client : {&maintainer, &owner}) {
      const auto refused = client->http().del("/v2/" + repo + "/manifests/" + reference);
      EXPECT_EQ(refused.status, 403u) << reference << ": " << describe(refused);
      EXPECT_EQ(error_code(refused), "DENIED") << describe(refused);
      EXPECT_NE(message_of(refused).find("needs an administrator"), std::string::npos)
          << message_of(refused);
    }
  }
  EXPECT_TRUE(writer.manifest_exists(repo, "v1"));
  // The maintainer deletes unprotected tags as ever.
  const auto unprotected = maintainer.http().del("/v2/" + repo + "/manifests/release-10");
  EXPECT_EQ(unprotected.status, 202u) << describe(unprotected);

  // Retention never deletes a protected tag, whatever its rules say.
  const std::string policy = R"({"include":["*"],"rules":{"keep_last":0}})";
  const auto preview = AdminApi(owner.http()).preview("imm", policy);
  std::set<std::string> planned;
  for (const auto& tag : preview.at("tags").as_array()) {
    planned.insert(std::string(tag.at("tag").as_string()));
  }
  EXPECT_EQ(planned, (std::set<std::string>{"latest"})) << boost::json::serialize(preview);

  // An administrator may delete it; then the tag is free for a new push.
  const auto deleted = admin.http().del("/v2/" + repo + "/manifests/v1");
  EXPECT_EQ(deleted.status, 202u) << describe(deleted);
  EXPECT_FALSE(writer.manifest_exists(repo, "v1"));
  EXPECT_EQ(writer.push_manifest(repo, "v1", second.manifest, second.media_type), second.digest);
  EXPECT_EQ(writer.get_manifest(repo, "v1").body, second.manifest);
  // release-1 still protects the first image.
  const auto by_digest = maintainer.http().del("/v2/" + repo + "/manifests/" + first.digest);
  EXPECT_EQ(by_digest.status, 403u) << describe(by_digest);

  // Without patterns, everything is mutable again.
  ASSERT_EQ(AdminApi(admin.http()).put_settings("imm", "{}").status, 200u);
  writer.push_manifest(repo, "v1", first.manifest, first.media_type);
  EXPECT_EQ(writer.get_manifest(repo, "v1").body, first.manifest);
}

// Regression: the check that an immutable tag names no other manifest ran apart from the put
// that sets the tag, so several pushes of a new immutable tag at once were all acknowledged
// (201), each moving the tag in turn. Exactly one may win; the others are DENIED.
TEST(ImmutableTags, ConcurrentPushesOfANewImmutableTagAcknowledgeExactlyOne) {
  BerthProcess server;
  RegistryClient setup("127.0.0.1", server.port());
  const std::string repo = "race/app";
  constexpr std::size_t kPushers = 6;
  setup.push_blob(repo, random_bytes(16));  // The first push makes the project.
  ASSERT_EQ(AdminApi(setup.http()).put_settings("race", R"({"immutable_tags":["v*"]})").status,
            200u);
  std::vector<std::unique_ptr<RegistryClient>> clients;
  for (std::size_t i = 0; i < kPushers; ++i) {
    clients.push_back(std::make_unique<RegistryClient>("127.0.0.1", server.port()));
  }
  for (int round = 0; round < 10; ++round) {
    const std::string tag = "v" + std::to_string(round);
    // Manifests new to the registry: their bytes are written between the check and the commit,
    // the widest window a race could use.
    std::vector<PushedImage> images;
    for (std::size_t i = 0; i < kPushers; ++i) {
      PushedImage image;
      image.media_type = std::string(media_types::kOciManifest);
      image.config.bytes = R"({"architecture":"amd64","os":"linux","n":")" + random_token() + "\"}";
      image.config.digest = setup.push_blob(repo, image.config.bytes);
      image.layers = {new_layer(32)};
      setup.push_blob(repo, image.layers[0].bytes);
      image.manifest =
          make_image_manifest(describe(media_types::kOciConfig, image.config.bytes),
                              {describe(media_types::kOciLayer, image.layers[0].bytes)});
      images.push_back(std::move(image));
    }
    std::vector<HttpResponse> answers(kPushers);
    std::atomic<std::size_t> ready{0};
    std::vector<std::thread> pushers;
    for (std::size_t i = 0; i < kPushers; ++i) {
      pushers.emplace_back([&, i] {
        ++ready;
        while (ready.load() < kPushers) {
          std::this_thread::yield();
        }
        answers[i] = clients[i]->http().put("/v2/" + repo + "/manifests/" + tag, images[i].manifest,
                                            {{"Content-Type", images[i].media_type}});
      });
    }
    for (auto& pusher : pushers) {
      pusher.join();
    }
    std::vector<std::size_t> won;
    for (std::size_t i = 0; i < kPushers; ++i) {
      if (answers[i].status == 201) {
        won.push_back(i);
      } else {
        EXPECT_EQ(answers[i].status, 403u) << describe(answers[i]);
        EXPECT_EQ(error_code(answers[i]), "DENIED") << describe(answers[i]);
      }
    }
    ASSERT_EQ(won.size(), 1u) << "round " << round << ": " << won.size()
                              << " pushes of immutable tag " << tag << " were acknowledged";
    EXPECT_EQ(setup.get_manifest(repo, tag).body, images[won.front()].manifest);
  }
  for (auto& client : clients) {
    client->http().close();
  }
  setup.http().close();
  EXPECT_EQ(server.stop(), 0) << server.log();
}

}  // namespace
}  // namespace berth::testing::lifecycle
