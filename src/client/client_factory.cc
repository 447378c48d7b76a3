#include "client/client_factory.h"

#include "client/in_process_client.h"
#include "client/remote_client.h"

namespace dt::client {

std::string CheckEventStoreUrl(const std::string& url) {
  if (url.rfind("file:", 0) == 0) {
    std::string folder = url.substr(5);
    if (folder.rfind("//", 0) == 0) folder = folder.substr(2);
    if (folder.empty()) return "file: URL names no folder (use file:./data/eventstore)";
    return {};
  }
  if (url.rfind("http://", 0) == 0) {
    RemoteOptions o;
    o.url = url;
    auto c = RemoteClient::Create(o);
    return c.ok() ? std::string() : c.status().message();
  }
  if (url.rfind("https://", 0) == 0) return "https is not supported (use http:// or file:)";
  return "must be http://host:port or file:<folder>";
}

Result<std::unique_ptr<EventStoreClient>> OpenEventStoreClient(const ClientConfig& config) {
  std::string problem = CheckEventStoreUrl(config.url);
  if (!problem.empty()) return Status::InvalidArgument("EVENTSTORE_URL: " + problem);
  if (config.url.rfind("file:", 0) == 0) {
    std::string folder = config.url.substr(5);
    if (folder.rfind("//", 0) == 0) folder = folder.substr(2);
    auto c = InProcessClient::Open(folder);
    if (!c.ok()) return c.status();
    return std::unique_ptr<EventStoreClient>(std::move(c).value());
  }
  RemoteOptions o;
  o.url = config.url;
  o.username = config.username;
  o.password = config.password;
  auto c = RemoteClient::Create(o);
  if (!c.ok()) return c.status();
  return std::unique_ptr<EventStoreClient>(std::move(c).value());
}

}  // namespace dt::client
