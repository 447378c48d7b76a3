#include "http/router.h"

#include <gtest/gtest.h>

#include <thread>

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
