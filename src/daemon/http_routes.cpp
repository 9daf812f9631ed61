#include "http_routes.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace capsule::daemon {

void StaticRouteHandler::handle(HttpTriggerRequest /*request*/, Done done) {
  done(HttpTriggerResponse{200, "text/plain; charset=utf-8", body_, {}});
}

void RouteTable::add(HttpRoute route) {
  const auto at = std::find_if(routes_.begin(), routes_.end(), [&](const HttpRoute& r) {
    return r.prefix.size() < route.prefix.size();
  });
  routes_.insert(at, std::move(route));
}

const HttpRoute* RouteTable::match(std::string_view path) const {
  for (const auto& r : routes_) {
    if (r.prefix == "/") return &r;
    if (path.starts_with(r.prefix) &&
        (path.size() == r.prefix.size() || path[r.prefix.size()] == '/')) {
      return &r;
    }
  }
  return nullptr;
}

int http_status_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::kTimeout:
      return 504;
    case ErrorCode::kMailboxFull:
    case ErrorCode::kWouldBlock:
    case ErrorCode::kUnavailable:
    case ErrorCode::kQuotaExceeded:
    case ErrorCode::kNotFound:  // the component is stopped, or has given up restarting
    case ErrorCode::kCancelled:
      return 503;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kInvalidArgument:  // e.g. a body over the component's max_payload
      return 400;
    default:  // trap, fuel, memory or wall-time limit, a guest error value, internal
      return 500;
  }
}

HttpTriggerResponse http_error(int status, std::string_view component, std::string_view cause,
                               std::string_view message) {
  nlohmann::json body{{"ok", false},
                      {"status", status},
                      {"component", component},
                      {"error", cause},
                      {"message", message}};
  return {status,
          "application/json",
          body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
          {}};
}

}  // namespace capsule::daemon
