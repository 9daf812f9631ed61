// requester: asks another component and keeps its reply.
//
// Config: target = "ns/name/instance", timeout_ms (default 2000). A message "last" replies with
// the outcome of the latest finished request ("reply: <payload>" or "error: <kind>: <text>", or
// "none"); any other payload is sent to the target as a request, and the message is answered
// "asked #<correlation id>". capsule's requests are asynchronous: the target's reply arrives
// later in HandleCallback, never as the return value of messaging.Request. The Go twin of
// guest/examples/python/requester.
package export_capsule_core_lifecycle

import (
	"strconv"
	"strings"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
	messaging "wit_component/capsule_core_messaging"
	services "wit_component/capsule_core_services"
	types "wit_component/capsule_core_types"
)

type (
	unit  = witTypes.Unit
	reply = witTypes.Option[types.Payload]
)

const text = 0x0f // multicodec utf-8 text

// An instance's state lives in package variables: the module instance is the actor's memory.
var (
	target    types.ComponentId
	timeoutMs uint32 = 2000
	last             = "none"
)

var errorKinds = map[uint8]string{
	types.ErrorInvalidArgument: "invalid-argument", types.ErrorNotFound: "not-found",
	types.ErrorPermissionDenied: "permission-denied", types.ErrorQuotaExceeded: "quota-exceeded",
	types.ErrorTimeout: "timeout", types.ErrorCancelled: "cancelled",
	types.ErrorUnavailable: "unavailable", types.ErrorNotImplemented: "not-implemented",
	types.ErrorInternal: "internal",
}

// describe turns a capsule error into "<kind>: <text>".
func describe(err types.Error) string {
	var words string
	switch err.Tag() {
	case types.ErrorInvalidArgument:
		words = err.InvalidArgument()
	case types.ErrorNotFound:
		words = err.NotFound()
	case types.ErrorPermissionDenied:
		words = err.PermissionDenied()
	case types.ErrorQuotaExceeded:
		words = err.QuotaExceeded()
	case types.ErrorTimeout:
		words = err.Timeout()
	case types.ErrorCancelled:
		words = err.Cancelled()
	case types.ErrorUnavailable:
		words = err.Unavailable()
	case types.ErrorNotImplemented:
		words = err.NotImplemented()
	case types.ErrorInternal:
		words = err.Internal()
	}
	return errorKinds[err.Tag()] + ": " + words
}

func Init(config []witTypes.Tuple2[string, string]) witTypes.Result[unit, types.Error] {
	settings := map[string]string{}
	for _, entry := range config {
		settings[entry.F0] = entry.F1
	}
	parts := strings.Split(settings["target"], "/")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return witTypes.Err[unit, types.Error](types.MakeErrorInvalidArgument(
			"target must be ns/name/instance, not '" + settings["target"] + "'"))
	}
	target = types.ComponentId{Namespace: parts[0], Name: parts[1], Instance: parts[2]}
	if text, ok := settings["timeout_ms"]; ok {
		value, err := strconv.ParseUint(text, 10, 32)
		if err != nil {
			return witTypes.Err[unit, types.Error](types.MakeErrorInvalidArgument(
				"timeout_ms must be a number of milliseconds, not '" + text + "'"))
		}
		timeoutMs = uint32(value)
	}
	return witTypes.Ok[unit, types.Error](unit{})
}

func HandleMessage(msg types.Message) witTypes.Result[reply, types.Error] {
	if string(msg.Payload.Bytes) == "last" {
		return witTypes.Ok[reply, types.Error](witTypes.Some(types.Payload{Codec: text, Bytes: []byte(last)}))
	}
	asked := messaging.Request(target, msg.Payload, timeoutMs)
	if asked.IsErr() {
		return witTypes.Err[reply, types.Error](asked.Err())
	}
	body := "asked #" + strconv.FormatUint(asked.Ok(), 10)
	return witTypes.Ok[reply, types.Error](witTypes.Some(types.Payload{Codec: text, Bytes: []byte(body)}))
}

func HandleCallback(response types.Callback) witTypes.Result[unit, types.Error] {
	if response.Outcome.IsOk() {
		last = "reply: " + string(response.Outcome.Ok().Bytes)
	} else {
		last = "error: " + describe(response.Outcome.Err())
	}
	services.Log(types.LogLevelInfo, "request finished", []witTypes.Tuple2[string, string]{
		{F0: "correlation", F1: strconv.FormatUint(response.Correlation, 10)},
		{F0: "outcome", F1: last}})
	return witTypes.Ok[unit, types.Error](unit{})
}

func Health() types.HealthStatus { return types.HealthStatusHealthy }

func Shutdown() {}

func Metadata() types.ComponentMetadata {
	return types.ComponentMetadata{Name: "go-requester", Version: "0.1.0",
		Description: "Asks another component and keeps its reply (Go)"}
}
