#include "http/router.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "http/worker_pool.h"

namespace dt::http {
namespace {

Exchange Ex(Verb v, std::string target) { return MakeExchange(Request{v, target, 11}); }

Router TestRouter() {
  return Router({
      {Verb::get, "/streams/{stream}", Handler([](const Exchange& ex) {
         return MakeResponse(HttpStatus::ok, "stream=" + std::string(ex.Param("stream")));
       })},
      {Verb::post, "/streams/{stream}", Handler([](const Exchange&) {
         return MakeResponse(HttpStatus::created);
       })},
      {Verb::get, "/streams/{stream}/{from}/forward/{count}", Handler([](const Exchange& ex) {
         return MakeResponse(HttpStatus::ok, std::string(ex.Param("from")) + "+" +
                                                 std::string(ex.Param("count")));
       })},
      {Verb::get, "/web/{path*}", Handler([](const Exchange& ex) {
         return MakeResponse(HttpStatus::ok, "file=" + std::string(ex.Param("path")));
       })},
      {Verb::get, "/later", AsyncHandler([](Exchange, Reply reply) {
         std::thread([reply] { reply(MakeResponse(HttpStatus::accepted, "late")); }).detach();
       })},
      {Verb::get, "/throws", Handler([](const Exchange&) -> Response {
         throw std::runtime_error("boom");
       })},
      {Verb::get, "/forgets", AsyncHandler([](Exchange, Reply) {})},
  });
}

TEST(RouterTest, MatchesLiteralAndParameterSegments) {
  Router r = TestRouter();
  EXPECT_EQ(r.Call(Ex(Verb::get, "/streams/abc")).body(), "stream=abc");
  EXPECT_EQ(r.Call(Ex(Verb::get, "/streams/abc/5/forward/20")).body(), "5+20");
  EXPECT_EQ(r.Call(Ex(Verb::post, "/streams/abc")).result(), HttpStatus::created);
}

TEST(RouterTest, DecodesParametersButSplitsOnRawSlashes) {
  Router r = TestRouter();
  EXPECT_EQ(r.Call(Ex(Verb::get, "/streams/%24all")).body(), "stream=$all");
  EXPECT_EQ(r.Call(Ex(Verb::get, "/streams/a%2Fb")).body(), "stream=a/b");
  EXPECT_EQ(r.Call(Ex(Verb::get, "/streams/abc?embed=body")).body(), "stream=abc");
  EXPECT_EQ(r.Call(Ex(Verb::get, "/streams/%zz")).result(), HttpStatus::bad_request);
}

TEST(RouterTest, RestParameterTakesTheRemainingPath) {
  Router r = TestRouter();
  EXPECT_EQ(r.Call(Ex(Verb::get, "/web/js/app.js")).body(), "file=js/app.js");
  EXPECT_EQ(r.Call(Ex(Verb::get, "/web/")).body(), "file=");
  EXPECT_EQ(r.Call(Ex(Verb::get, "/web")).body(), "file=");
  EXPECT_EQ(r.Call(Ex(Verb::get, "/web/a//b%2Fc/")).body(), "file=a//b/c/");
  EXPECT_EQ(r.Call(Ex(Verb::get, "/web/a/%4")).result(), HttpStatus::bad_request);
  EXPECT_EQ(r.Call(Ex(Verb::get, "/web/a/%4g")).result(), HttpStatus::bad_request);
}

// A malformed escape in a segment a route would take as a parameter is a 400 even when the
// method is not the route's (the path could not be read), and a route whose literal segment
// differs never sees the escape.
TEST(RouterTest, MalformedEscapesAre400WhateverTheMethod) {
  Router r = TestRouter();
  EXPECT_EQ(r.Call(Ex(Verb::delete_, "/streams/%zz")).result(), HttpStatus::bad_request);
  EXPECT_EQ(r.Call(Ex(Verb::get, "/streams/%2")).result(), HttpStatus::bad_request);
  EXPECT_EQ(r.Call(Ex(Verb::get, "/streams/a%41b/%31/forward/2%30")).body(), "1+20");
  EXPECT_EQ(r.Call(Ex(Verb::get, "/streams/a/1/backward/%zz")).result(), HttpStatus::not_found);
}

TEST(RouterTest, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  Router r = TestRouter();
  EXPECT_EQ(r.Call(Ex(Verb::get, "/nope")).result(), HttpStatus::not_found);
  Response res = r.Call(Ex(Verb::delete_, "/streams/abc"));
  EXPECT_EQ(res.result(), HttpStatus::method_not_allowed);
  EXPECT_EQ(res[bhttp::field::allow], "GET, POST");
}

TEST(RouterTest, ErrorFormatShapesTheRoutersOwnErrors) {
  Router r({Route(Verb::get, "/x", Handler([](const Exchange&) { return MakeResponse(HttpStatus::ok); })),
            Route(Verb::get, "/boom", Handler([](const Exchange&) -> Response {
                    throw std::runtime_error("boom");
                  }))},
           [](HttpStatus s, std::string_view m) {
             return JsonResponse(s, "{\"error\":\"" + std::string(m) + "\"}");
           });
  auto missing = r.Call(Ex(Verb::get, "/nope"));
  EXPECT_EQ(missing.result(), HttpStatus::not_found);
  EXPECT_EQ(missing.body(), R"({"error":"Not found"})");
  auto wrong = r.Call(Ex(Verb::post, "/x"));
  EXPECT_EQ(wrong.result(), HttpStatus::method_not_allowed);
  EXPECT_EQ(wrong[bhttp::field::allow], "GET");
  EXPECT_EQ(wrong.body(), R"({"error":"Method not allowed"})");
  EXPECT_EQ(r.Call(Ex(Verb::get, "/boom")).body(), R"({"error":"Internal server error"})");
}

TEST(RouterTest, HeadFallsBackToGet) {
  Router r = TestRouter();
  EXPECT_EQ(r.Call(Ex(Verb::head, "/streams/x")).result(), HttpStatus::ok);
}

TEST(RouterTest, AsyncHandlerMayAnswerFromAnotherThread) {
  Router r = TestRouter();
  Response res = r.Call(Ex(Verb::get, "/later"));
  EXPECT_EQ(res.result(), HttpStatus::accepted);
  EXPECT_EQ(res.body(), "late");
}

TEST(RouterTest, ThrowingHandlerIs500AndForgottenReplyIs500) {
  Router r = TestRouter();
  EXPECT_EQ(r.Call(Ex(Verb::get, "/throws")).result(), HttpStatus::internal_server_error);
  EXPECT_EQ(r.Call(Ex(Verb::get, "/forgets")).result(), HttpStatus::internal_server_error);
}

// PostGuarded: the job runs on a pool thread and answers there; a job that throws answers
// 500 and a full queue 503 with Retry-After, both in the caller's error format.
TEST(RouterTest, PostGuardedRunsOnThePoolAndAnswersBusyAndThrowsInTheGivenFormat) {
  const ErrorFormat format = [](HttpStatus status, std::string_view message) {
    return MakeResponse(status, "E:" + std::string(message));
  };
  WorkerPool pool(1, 1);
  auto answer = [&](std::function<void(const Reply&)> job) {
    auto p = std::make_shared<std::promise<Response>>();
    auto f = p->get_future();
    PostGuarded(pool, "/job", format, Reply([p](Response r) { p->set_value(std::move(r)); }),
                std::move(job));
    return f;
  };
  const auto caller = std::this_thread::get_id();
  Response ran = answer([&](const Reply& reply) {
                   reply(MakeResponse(HttpStatus::ok,
                                      std::this_thread::get_id() == caller ? "caller" : "pool"));
                 }).get();
  EXPECT_EQ(ran.body(), "pool");
  Response threw = answer([](const Reply&) { throw std::runtime_error("boom"); }).get();
  EXPECT_EQ(threw.result(), HttpStatus::internal_server_error);
  EXPECT_EQ(threw.body(), "E:Internal server error");

  // Hold the one thread, fill the one queue slot: the next job is refused at once.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> started;
  auto held = answer([&](const Reply& reply) {
    started.set_value();
    released.wait();
    reply(MakeResponse(HttpStatus::ok, "held"));
  });
  started.get_future().wait();
  auto queued = answer([](const Reply& reply) { reply(MakeResponse(HttpStatus::ok, "queued")); });
  auto refused = answer([](const Reply& reply) { reply(MakeResponse(HttpStatus::ok, "ran")); });
  ASSERT_EQ(refused.wait_for(std::chrono::seconds(0)), std::future_status::ready);
  Response busy = refused.get();
  EXPECT_EQ(busy.result(), HttpStatus::service_unavailable);
  EXPECT_EQ(busy.body(), "E:Server busy, retry later");
  EXPECT_EQ(busy[bhttp::field::retry_after], "1");
  release.set_value();
  EXPECT_EQ(held.get().body(), "held");
  EXPECT_EQ(queued.get().body(), "queued");
}

TEST(ExchangeTest, QueryParametersAreDecoded) {
  Exchange ex = Ex(Verb::get, "/x?embed=body&q=a+b%21&flag");
  EXPECT_EQ(ex.Query("embed"), "body");
  EXPECT_EQ(ex.Query("q"), "a b!");
  EXPECT_EQ(ex.Query("flag"), "");
  EXPECT_FALSE(ex.Query("none").has_value());
}

TEST(ExchangeTest, ErrorResponseCarriesReasonPhrase) {
  Response res = ErrorResponse(HttpStatus::bad_request, "Wrong expected EventNumber");
  EXPECT_EQ(res.reason(), "Wrong expected EventNumber");
  EXPECT_EQ(res.body(), "Wrong expected EventNumber\n");
}

}  // namespace
}  // namespace dt::http
