import protobuf from 'protobufjs/light.js';

/**
 * Prometheus remote write 1.0 messages (prompb/remote.proto and types.proto),
 * the parts a sender fills: WriteRequest { repeated TimeSeries timeseries = 1 },
 * TimeSeries { repeated Label labels = 1; repeated Sample samples = 2 },
 * Label { string name = 1; string value = 2 },
 * Sample { double value = 1; int64 timestamp = 2 } (ms).
 * Built by reflection from this descriptor: no generated code to keep in sync.
 */
const root = protobuf.Root.fromJSON({
  nested: {
    prometheus: {
      nested: {
        WriteRequest: { fields: { timeseries: { rule: 'repeated', type: 'TimeSeries', id: 1 } } },
        TimeSeries: {
          fields: {
            labels: { rule: 'repeated', type: 'Label', id: 1 },
            samples: { rule: 'repeated', type: 'Sample', id: 2 },
          },
        },
        Label: { fields: { name: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        Sample: { fields: { value: { type: 'double', id: 1 }, timestamp: { type: 'int64', id: 2 } } },
      },
    },
  },
});

export const WriteRequest = root.lookupType('prometheus.WriteRequest');

export interface Label {
  name: string;
  value: string;
}
export interface PromSample {
  value: number;
  timestamp: number;
}
export interface TimeSeries {
  labels: Label[];
  samples: PromSample[];
}
