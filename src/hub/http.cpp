// libcurl-based HTTP for the hub client.
#include "hub/http.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "attnscope/error.h"

namespace attnscope::hub::detail {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Ctx {
  HttpResponse* resp = nullptr;
  std::string* body = nullptr;
  uint64_t max_body = 0;
  std::FILE* file = nullptr;
  long cur_status = 0;   // status line of the response being received
  bool started = false;  // first data byte seen
  bool restart = false;  // the server ignored our Range: the file starts over
  std::string label;
  uint64_t base = 0, total = 0;
  double last_draw = -1;
};

size_t on_header(char* p, size_t size, size_t n, void* user) {
  auto* ctx = static_cast<Ctx*>(user);
  std::string line(p, size * n);
  while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (redirects, 100-continue): start over
    ctx->resp->headers.clear();
    auto sp = line.find(' ');
    ctx->cur_status = sp == std::string::npos ? 0 : std::atol(line.c_str() + sp + 1);
    return size * n;
  }
  auto colon = line.find(':');
  if (colon == std::string::npos) return size * n;
  std::string name = line.substr(0, colon), value = line.substr(colon + 1);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  value.erase(0, value.find_first_not_of(" \t"));
  ctx->resp->headers[name] = value;
  return size * n;
}

size_t on_body(char* p, size_t size, size_t n, void* user) {
  auto* ctx = static_cast<Ctx*>(user);
  const size_t len = size * n;
  ctx->resp->bytes += len;
  if (ctx->file) {
    // Only a 200/206 body is data; error pages and redirect bodies are dropped.
    if (ctx->cur_status != 200 && ctx->cur_status != 206) return len;
    if (!ctx->started) {
      ctx->started = true;
      if (ctx->cur_status == 200 && ctx->base > 0) {
        ctx->restart = true;
        ctx->base = 0;
        if (std::fflush(ctx->file) != 0 || ::ftruncate(::fileno(ctx->file), 0) != 0) return 0;
        std::rewind(ctx->file);
      }
    }
    return std::fwrite(p, 1, len, ctx->file);
  }
  if (ctx->body) {
    if (ctx->body->size() + len > ctx->max_body) return 0;  // aborts the transfer
    ctx->body->append(p, len);
  }
  return len;
}

int on_progress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t, curl_off_t) {
  auto* ctx = static_cast<Ctx*>(user);
  if (ctx->label.empty()) return 0;
  const double total = static_cast<double>(ctx->total ? ctx->total : ctx->base + static_cast<uint64_t>(dltotal));
  const double now = static_cast<double>(ctx->base + static_cast<uint64_t>(dlnow));
  if (total <= 0) return 0;
  const double frac = std::min(1.0, now / total);
  if (frac - ctx->last_draw < 0.01 && frac < 1.0) return 0;
  ctx->last_draw = frac;
  const int width = 30, filled = static_cast<int>(frac * width);
  std::fprintf(stderr, "\r%-40.40s [%.*s%*s] %5.1f%% %.1f/%.1f MB", ctx->label.c_str(), filled,
               "##############################", width - filled, "", 100 * frac, now / 1e6, total / 1e6);
  std::fflush(stderr);
  return 0;
}

// Starts a transfer on a fresh handle; the caller has set body handling in ctx.
void perform(const HttpRequest& req, Ctx& ctx) {
  global_init();
  HttpResponse& resp = *ctx.resp;
  CURL* h = curl_easy_init();
  if (!h) fail(ErrorKind::Network, "cannot start an HTTP transfer (libcurl init failed)");
  curl_easy_setopt(h, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "attnscope/0.1");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, req.follow_redirects ? 1L : 0L);
  curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
  // A stalled transfer (under 1 byte/s for 60 s) is a failure, never a hang.
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  if (req.head) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  if (!req.token.empty()) {
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
    curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER, req.token.c_str());
  }
  std::string range;
  if (req.range_from > 0) {
    range = std::to_string(req.range_from) + "-";
    curl_easy_setopt(h, CURLOPT_RANGE, range.c_str());
  }
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &ctx);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &ctx);
  if (!ctx.label.empty()) {
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, &ctx);
  }
  CURLcode rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.status);
  char* eff = nullptr;
  curl_easy_getinfo(h, CURLINFO_EFFECTIVE_URL, &eff);
  if (eff) resp.effective_url = eff;
  if (rc != CURLE_OK) {
    resp.transport_error = true;
    resp.unreachable = rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
                       rc == CURLE_COULDNT_RESOLVE_PROXY || (rc == CURLE_OPERATION_TIMEDOUT && resp.status == 0);
    resp.error = curl_easy_strerror(rc);
  }
  curl_easy_cleanup(h);
  if (!ctx.label.empty() && ctx.last_draw >= 0) std::fprintf(stderr, "\n");
}

}  // namespace

HttpResponse http_fetch(const HttpRequest& req, uint64_t max_body) {
  HttpResponse resp;
  Ctx ctx;
  ctx.resp = &resp;
  ctx.body = &resp.body;
  ctx.max_body = max_body;
  perform(req, ctx);
  return resp;
}

HttpResponse http_download(const HttpRequest& req, const std::string& path, const std::string& progress_label,
                           uint64_t expected_total) {
  HttpResponse resp;
  std::FILE* f = std::fopen(path.c_str(), req.range_from > 0 ? "ab" : "wb");
  if (!f) fail(ErrorKind::Io, "cannot write " + path);
  Ctx ctx;
  ctx.resp = &resp;
  ctx.file = f;
  ctx.label = progress_label;
  ctx.base = req.range_from;
  ctx.total = expected_total;
  perform(req, ctx);
  std::fclose(f);
  return resp;
}

}  // namespace attnscope::hub::detail
