// echo: replies with the payload it receives, codec included.
package export_capsule_core_lifecycle

import (
	witTypes "go.bytecodealliance.org/pkg/wit/types"
	types "wit_component/capsule_core_types"
)

type (
	unit  = witTypes.Unit
	reply = witTypes.Option[types.Payload]
)

func Init(config []witTypes.Tuple2[string, string]) witTypes.Result[unit, types.Error] {
	return witTypes.Ok[unit, types.Error](unit{})
}

func HandleMessage(msg types.Message) witTypes.Result[reply, types.Error] {
	return witTypes.Ok[reply, types.Error](witTypes.Some(msg.Payload))
}

func HandleCallback(response types.Callback) witTypes.Result[unit, types.Error] {
	return witTypes.Ok[unit, types.Error](unit{})
}

func Health() types.HealthStatus { return types.HealthStatusHealthy }

func Shutdown() {}

func Metadata() types.ComponentMetadata {
	return types.ComponentMetadata{Name: "go-echo", Version: "0.1.0",
		Description: "Replies with the payload it receives (Go)"}
}
