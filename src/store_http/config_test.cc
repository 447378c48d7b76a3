#include "store_http/config.h"

#include <gtest/gtest.h>

namespace dt::store_http {
namespace {

Result<Parsed> Parse(std::vector<const char*> args, std::vector<std::string> env = {}) {
  args.insert(args.begin(), "dt-eventstore");
  return ParseConfig(static_cast<int>(args.size()), args.data(), env);
}

TEST(ConfigTest, DefaultsAreTheDocumentedOnes) {
  auto p = Parse({});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->config.db, "./data/eventstore");
  EXPECT_EQ(p->config.http_port, 2113);
  EXPECT_EQ(p->config.node_ip, "127.0.0.1");
  EXPECT_FALSE(p->config.insecure);
  EXPECT_EQ(p->config.admin_password, "changeit");
}

TEST(ConfigTest, EnvironmentThenFlags) {
  auto p = Parse({"--http-port", "3000"},
                 {"EVENTSTORE_HTTP_PORT=2999", "EVENTSTORE_DB=/x", "EVENTSTORE_INSECURE=true",
                  "EVENTSTORE_DEFAULT_ADMIN_PASSWORD=pw", "EVENTSTORE_RUN_PROJECTIONS=All",
                  "EVENTSTORE_ENABLE_ATOM_PUB_OVER_HTTP=true"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->config.http_port, 3000);
  EXPECT_EQ(p->config.db, "/x");
  EXPECT_TRUE(p->config.insecure);
  EXPECT_EQ(p->config.admin_password, "pw");
  EXPECT_EQ(p->config.run_projections, "All");
  auto flag = Parse({"--insecure"});
  ASSERT_TRUE(flag.ok());
  EXPECT_TRUE(flag->config.insecure);
}

TEST(ConfigTest, LogFolderFromEnvironmentOrFlag) {
  auto none = Parse({});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->config.log_dir, "");  // console only unless asked
  auto env = Parse({}, {"EVENTSTORE_LOG=/var/log/es"});
  ASSERT_TRUE(env.ok());
  EXPECT_EQ(env->config.log_dir, "/var/log/es");
  auto flag = Parse({"--log", "/tmp/l"}, {"EVENTSTORE_LOG=/var/log/es"});
  ASSERT_TRUE(flag.ok());
  EXPECT_EQ(flag->config.log_dir, "/tmp/l");
}

TEST(ConfigTest, BadSettingIsOneLineNamingIt) {
  auto p = Parse({}, {"EVENTSTORE_HTTP_PORT=abc"});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("EVENTSTORE_HTTP_PORT"), std::string::npos);
  EXPECT_NE(p.status().message().find("'abc'"), std::string::npos);
  EXPECT_EQ(p.status().message().find('\n'), std::string::npos);
  EXPECT_FALSE(Parse({}, {"EVENTSTORE_INSECURE=perhaps"}).ok());
  auto flag = Parse({"--http-port", "70000"});
  ASSERT_FALSE(flag.ok());
  EXPECT_NE(flag.status().message().find("--http-port"), std::string::npos);
  EXPECT_FALSE(Parse({"--log-level", "chatty"}).ok());
  EXPECT_FALSE(Parse({"--no-such-flag"}).ok());
}

TEST(ConfigTest, HelpAndVersionExit) {
  auto help = Parse({"--help"});
  ASSERT_TRUE(help.ok());
  EXPECT_EQ(help->outcome, ParseOutcome::kExit);
  EXPECT_NE(help->output.find("EVENTSTORE_HTTP_PORT"), std::string::npos);
  auto version = Parse({"--version"});
  ASSERT_TRUE(version.ok());
  EXPECT_NE(version->output.find("dt-eventstore"), std::string::npos);
}

}  // namespace
}  // namespace dt::store_http
