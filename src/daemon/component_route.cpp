#include "component_route.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include <capsule/core/component_id.hpp>
#include <capsule/core/multicodec.hpp>

namespace capsule::daemon {
namespace {

// "mailbox-full": an error code as one token, for the JSON body of an error answer.
std::string cause_of(ErrorCode code) {
  std::string out(to_string(code));
  std::replace(out.begin(), out.end(), ' ', '-');
  return out;
}

}  // namespace

std::uint32_t codec_of_content_type(std::string_view content_type) {
  const std::string_view base = content_type.substr(0, content_type.find(';'));
  if (base == "application/json") return multicodec::kJson;
  if (base == "application/cbor") return multicodec::kCbor;
  if (base.starts_with("text/")) return multicodec::kUtf8Text;
  return multicodec::kRaw;
}

std::string content_type_of_codec(std::uint32_t codec) {
  switch (codec) {
    case multicodec::kJson:
      return "application/json";
    case multicodec::kCbor:
      return "application/cbor";
    case multicodec::kUtf8Text:
      return "text/plain; charset=utf-8";
    default:
      return "application/octet-stream";
  }
}

ComponentRouteHandler::ComponentRouteHandler(component::ComponentRuntime& runtime,
                                             std::string component, std::uint32_t instances,
                                             manifest::HttpEnvelope envelope,
                                             std::chrono::milliseconds timeout, std::string prefix)
    : runtime_(runtime),
      component_(std::move(component)),
      instances_(instances),
      prefix_(std::move(prefix)),
      envelope_(envelope),
      timeout_(timeout) {
  const auto slash = component_.find('/');
  ns_ = component_.substr(0, slash);
  name_ = component_.substr(slash + 1);
}

Result<Payload> ComponentRouteHandler::payload_of(HttpTriggerRequest& request) const {
  if (envelope_ == manifest::HttpEnvelope::kBody) {
    // The body's bytes as they came: no encoding, whatever the body holds.
    return Payload{codec_of_content_type(request.content_type),
                   std::vector<std::uint8_t>(request.body.begin(), request.body.end())};
  }
  nlohmann::json headers = nlohmann::json::object();
  for (const auto& [key, value] : request.headers) {
    std::string lower = key;
    for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto& slot = headers[lower];
    slot = slot.is_null() ? value : slot.get<std::string>() + ", " + value;
  }
  const nlohmann::json envelope{{"method", request.method},
                                {"path", request.path},
                                {"query", request.query},
                                {"headers", headers},
                                {"body", request.body}};
  std::string text;
  try {
    text = envelope.dump();  // strict: a body or header that is not UTF-8 throws
  } catch (const nlohmann::json::exception&) {
    return make_error(ErrorCode::kInvalidArgument,
                      "the json envelope carries text only: the body or a header is not UTF-8 "
                      "(use envelope = \"body\" for binary bodies)");
  }
  return Payload{multicodec::kJson, std::vector<std::uint8_t>(text.begin(), text.end())};
}

Result<ComponentId> ComponentRouteHandler::target_of(const HttpTriggerRequest& request) {
  if (instances_ != kOnDemand) {
    const auto n = next_.fetch_add(1, std::memory_order_relaxed) % instances_;
    return ComponentId{ns_, name_, std::to_string(n)};
  }
  // The route matched on a segment boundary, so what follows the prefix is "" or "/...".
  std::string_view rest = request.path;
  rest.remove_prefix(std::min(rest.size(), prefix_ == "/" ? std::size_t{0} : prefix_.size()));
  while (rest.starts_with('/')) rest.remove_prefix(1);
  const std::string_view name = rest.substr(0, rest.find('/'));
  const std::string form = (prefix_ == "/" ? std::string() : prefix_) + "/<instance name>";
  if (name.empty()) {
    return make_error(ErrorCode::kNotFound,
                      component_ + " is on demand: name the instance in the path, " + form);
  }
  if (!is_valid_id_segment(name)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "'" + std::string(name) + "' is not an instance name of " + component_ +
                          " (1-128 letters, digits, '-', '_', '.'; path " + form + ")");
  }
  return ComponentId{ns_, name_, std::string(name)};
}

void ComponentRouteHandler::handle(HttpTriggerRequest request, Done done) {
  auto target = target_of(request);
  if (!target) {
    const Error& e = target.error();
    const int status = e.code == ErrorCode::kNotFound ? 404 : 400;
    done(http_error(status, component_, cause_of(e.code), e.message));
    return;
  }
  auto payload = payload_of(request);
  if (!payload) {
    done(http_error(400, component_, "bad-request", payload.error().message));
    return;
  }
  const ComponentId to = std::move(*target);
  // `done` may be called from here (refused at once) or from the deliver callback on a scheduler
  // worker or the timeout thread: never both (the tracker gives a request exactly one outcome).
  auto shared_done = std::make_shared<Done>(std::move(done));
  auto deliver = [shared_done, who = component_](CallbackResponse response) {
    if (response.reply) {
      (*shared_done)(HttpTriggerResponse{
          200, content_type_of_codec(response.reply->codec), response.reply->as_string(), {}});
      return;
    }
    const Error e = response.error.value_or(make_error(ErrorCode::kInternal, "no outcome"));
    (*shared_done)(http_error(http_status_of(e.code), who, cause_of(e.code), e.message));
  };
  auto started = runtime_.request(component::ComponentRuntime::privileged_caller(), to,
                                  std::move(*payload), timeout_, std::move(deliver));
  if (!started) {
    const Error& e = started.error();
    (*shared_done)(http_error(http_status_of(e.code), component_, cause_of(e.code), e.message));
  }
}

}  // namespace capsule::daemon
