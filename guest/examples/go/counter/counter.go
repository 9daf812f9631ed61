// counter: a per-component counter kept in capsule's storage, so it survives restarts.
//
// Requests: "incr" adds one and replies with the new value, "get" replies with the value,
// "reset" deletes it. The Go twin of guest/examples/python/counter and guest/examples/js/counter.
//
// Imports return witTypes.Result values; an export reports a typed error by returning Err with a
// capsule error (the caller sees it, the instance keeps running).
package export_capsule_core_lifecycle

import (
	"strconv"

	witTypes "go.bytecodealliance.org/pkg/wit/types"
	services "wit_component/capsule_core_services"
	storage "wit_component/capsule_core_storage"
	types "wit_component/capsule_core_types"
)

type (
	unit  = witTypes.Unit
	reply = witTypes.Option[types.Payload]
)

const (
	key  = "count"
	text = 0x0f // multicodec utf-8 text
)

// current reads the stored value: 0 when the key is absent.
func current() (uint64, *types.Error) {
	got := storage.Get(key)
	if got.IsErr() {
		err := got.Err()
		return 0, &err
	}
	if got.Ok().IsNone() {
		return 0, nil
	}
	value, parse := strconv.ParseUint(string(got.Ok().Some()), 10, 64)
	if parse != nil {
		err := types.MakeErrorInternal("stored count is not a number: " + parse.Error())
		return 0, &err
	}
	return value, nil
}

func answer(body string) witTypes.Result[reply, types.Error] {
	return witTypes.Ok[reply, types.Error](witTypes.Some(types.Payload{Codec: text, Bytes: []byte(body)}))
}

func failed(err types.Error) witTypes.Result[reply, types.Error] {
	return witTypes.Err[reply, types.Error](err)
}

func Init(config []witTypes.Tuple2[string, string]) witTypes.Result[unit, types.Error] {
	value, err := current()
	if err != nil {
		return witTypes.Err[unit, types.Error](*err)
	}
	services.Log(types.LogLevelInfo, "counter ready",
		[]witTypes.Tuple2[string, string]{{F0: "value", F1: strconv.FormatUint(value, 10)}})
	return witTypes.Ok[unit, types.Error](unit{})
}

func HandleMessage(msg types.Message) witTypes.Result[reply, types.Error] {
	command := string(msg.Payload.Bytes)
	switch command {
	case "incr":
		value, err := current()
		if err != nil {
			return failed(*err)
		}
		value++
		if set := storage.Set(key, []byte(strconv.FormatUint(value, 10))); set.IsErr() {
			return failed(set.Err())
		}
		return answer(strconv.FormatUint(value, 10))
	case "get":
		value, err := current()
		if err != nil {
			return failed(*err)
		}
		return answer(strconv.FormatUint(value, 10))
	case "reset":
		if removed := storage.Delete(key); removed.IsErr() {
			return failed(removed.Err())
		}
		return answer("0")
	default:
		return failed(types.MakeErrorInvalidArgument(
			"unknown command '" + command + "' (use incr, get or reset)"))
	}
}

func HandleCallback(response types.Callback) witTypes.Result[unit, types.Error] {
	return witTypes.Ok[unit, types.Error](unit{})
}

func Health() types.HealthStatus { return types.HealthStatusHealthy }

func Shutdown() {}

func Metadata() types.ComponentMetadata {
	return types.ComponentMetadata{Name: "go-counter", Version: "0.1.0",
		Description: "A counter kept in storage (Go)"}
}
