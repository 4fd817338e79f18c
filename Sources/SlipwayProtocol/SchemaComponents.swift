import Foundation

/// `components/schemas` of the OpenRPC document, in its order: the wire types' own schemas, and
/// the string formats several of them share (names, digests, times, stack image references).
public enum SchemaComponents {
    static let name: JSONSchema = #"""
        {
          "type": "string",
          "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
          "maxLength": 63,
          "description": "A DNS label."
        }
        """#
    static let digest: JSONSchema = ##"{"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"}"##
    static let timestamp: JSONSchema = ##"{"type": "string", "format": "date-time"}"##
    static let stackImageReference: JSONSchema = #"""
        {
          "type": "string",
          "description": "A registry reference host[:port]/repo[:tag|@digest] (pulled with the credentials of namespace default), oci:/dir[:tag] (OCI image layout), or a root filesystem folder (rootfs:/dir or an absolute path)."
        }
        """#

    /// Every component schema by name.
    public static let all: [(name: String, schema: JSONSchema)] = [
        ("Name", name),
        ("Digest", digest),
        ("Timestamp", timestamp),
        ("StackImageReference", stackImageReference),
        (NotificationKind.schemaName, NotificationKind.definition),
        (ReadyState.schemaName, ReadyState.definition),
        (BuildState.schemaName, BuildState.definition),
        (ReasonKind.schemaName, ReasonKind.definition),
        (InitializeResult.schemaName, InitializeResult.definition),
        (BuilderReference.schemaName, BuilderReference.definition),
        (SourceSpec.schemaName, SourceSpec.definition),
        (OrderGroup.schemaName, OrderGroup.definition),
        (ClusterStackResource.schemaName, ClusterStackResource.definition),
        (ClusterStoreResource.schemaName, ClusterStoreResource.definition),
        (BuildpackDescriptorResource.schemaName, BuildpackDescriptorResource.definition),
        (BuilderResource.schemaName, BuilderResource.definition),
        (BuildpackVersion.schemaName, BuildpackVersion.definition),
        (ImageResource.schemaName, ImageResource.definition),
        (BuildSummary.schemaName, BuildSummary.definition),
        (ImageStatusResult.schemaName, ImageStatusResult.definition),
        (SourceInfo.schemaName, SourceInfo.definition),
        (SecretInfo.schemaName, SecretInfo.definition),
        (ImageRow.schemaName, ImageRow.definition),
        (BuildReasonDetail.schemaName, BuildReasonDetail.definition),
        (BuildRow.schemaName, BuildRow.definition),
        (BuildStatusResult.schemaName, BuildStatusResult.definition),
        (BuildLogLine.schemaName, BuildLogLine.definition),
        (EventObject.schemaName, EventObject.definition),
        (BuildRunResult.schemaName, BuildRunResult.definition),
        (SystemEvent.schemaName, SystemEvent.definition),
        (SBOMEntry.schemaName, SBOMEntry.definition)
    ]
}
