#!/usr/bin/env python3
"""Writes spec/openrpc.json (OpenRPC 1.3) from the compact description below.

Edit this file when a method, param or result changes, run it, and commit both files in the
same change as the code. ProtocolTests checks that the methods here are exactly the methods
the server dispatches.
"""
import json
import os

S = lambda name: {"$ref": f"#/components/schemas/{name}"}
STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
NUM = {"type": "number"}


def arr(x):
    return {"type": "array", "items": x}


def obj(props, required=(), desc=None, open_=False):
    """An object schema. Closed (additionalProperties false) unless `open_`: a reply with a field
    the spec does not declare fails SchemaConformanceTests."""
    o = {"type": "object", "properties": props}
    if not open_:
        o["additionalProperties"] = False
    if required:
        o["required"] = list(required)
    if desc:
        o["description"] = desc
    return o


def p(name, schema, required=False, desc=None):
    d = {"name": name, "schema": schema, "required": required}
    if desc:
        d["description"] = desc
    return d


E = lambda name: {"$ref": f"#/components/errors/{name}"}
NS = p("namespace", S("Name"), desc='Defaults to "default".')
LIMIT = p("limit", {"type": "integer", "minimum": 1}, desc="At most this many items (default 500).")
CONTINUE = p("continue", STR, desc="The `continue` of the previous page: the page after it. Opaque; stays valid while objects are added.")
NEXT = {"type": "string", "description": "Set while more remain: pass it as `continue` for the next page."}
methods = []


def method(name, summary, params, result, errors=("InvalidParams",), result_name=None):
    methods.append({
        "name": name,
        "summary": summary,
        "paramStructure": "by-name",
        "params": params,
        "result": {"name": result_name or name.split("/")[-1] + "Result", "schema": result},
        "errors": [E(e) for e in errors],
    })


NULL = {"type": "null"}

# Lifecycle
method("initialize", "LSP-style handshake; optional, but if sent it must be the first message and only once.",
       [p("processId", {"type": ["integer", "null"]}), p("clientInfo", obj({"name": STR, "version": STR})),
        p("capabilities", {"type": "object"}), p("trace", STR)],
       S("InitializeResult"), errors=("InvalidRequest",))
method("shutdown", "After shutdown only `exit` is accepted; `exit` then ends the process with code 0.", [], NULL, errors=())
method("rpc.discover", "Returns this document.", [], {"$ref": "https://raw.githubusercontent.com/open-rpc/meta-schema/master/schema.json"}, errors=())
method("session/subscribe", "Turns notification kinds on or off for this session, optionally for one namespace only. "
       "New sessions get build/statusChanged, image/statusChanged and event; build/log only for builds they follow "
       "(build/logs with follow) unless build/log is enabled here.",
       [p("enable", arr(S("NotificationKind"))), p("disable", arr(S("NotificationKind"))),
        p("namespace", STR, desc='Only notifications about this namespace; "" for all.')],
       obj({"notifications": arr(S("NotificationKind")), "namespace": STR}))

# Stacks
stack_params = [p("name", S("Name"), True), p("buildImage", S("StackImageReference")), p("runImage", S("StackImageReference")),
                p("id", STR, desc="Stack id; default the build image's io.buildpacks.stack.id label.")]
method("clusterstack/create", "Creates a ClusterStack: imports the build and run images and records their digests.",
       [dict(x, required=True) if x["name"] in ("buildImage", "runImage") else x for x in stack_params], S("ClusterStack"),
       errors=("InvalidParams", "AlreadyExists", "NotFound", "Unavailable"))
method("clusterstack/patch", "Changes a ClusterStack's images or id (re-imports them). A new run image gives images on it a STACK build, "
       "which is a rebase when the stack id is unchanged.", stack_params, S("ClusterStack"),
       errors=("InvalidParams", "NotFound", "Unavailable"))
for verb in ("get", "status"):
    method(f"clusterstack/{verb}", "The stack with its resolved image digests.", [p("name", S("Name"), True)], S("ClusterStack"),
           errors=("InvalidParams", "NotFound"))
method("clusterstack/refresh", "Resolves the stack's image references again (a tag or folder may now give another digest); images on it "
       "get STACK builds (rebases) if the run image changed.", [p("name", S("Name"), True)], S("ClusterStack"), errors=("InvalidParams", "NotFound", "Unavailable"))
method("clusterstack/list", "ClusterStacks by name, a page at a time.", [LIMIT, CONTINUE], obj({"stacks": arr(S("ClusterStack")), "continue": NEXT}))
method("clusterstack/delete", "Deletes a ClusterStack; builders on it become not ready.", [p("name", S("Name"), True)], NULL,
       errors=("InvalidParams", "NotFound"))

# Stores
bp_paths = p("buildpacks", arr(STR), True, "Absolute paths of buildpack folders or .tgz/.tar.gz/.tar archives of one, or buildpackages "
             "(OCI images carrying /cnb/buildpacks/<id>/<version>/) as oci:DIR[:TAG], a .cnb file or a registry reference. A composite "
             "buildpack ([[order]] in buildpack.toml) expands, in builders, into one group per group of its own.")
method("clusterstore/create", "Creates a ClusterStore from buildpack folders and archives.", [p("name", S("Name"), True), bp_paths],
       S("ClusterStore"), errors=("InvalidParams", "AlreadyExists"))
method("clusterstore/add", "Adds buildpacks (a buildpack with the same id and version is replaced). Images whose last successful build used "
       "another version of a buildpack now in the builder get a BUILDER build.", [p("name", S("Name"), True), bp_paths],
       S("ClusterStore"), errors=("InvalidParams", "NotFound"))
method("clusterstore/remove", "Removes buildpacks named `id` or `id@version`.",
       [p("name", S("Name"), True), p("buildpacks", arr(STR), True)], S("ClusterStore"), errors=("InvalidParams", "NotFound"))
method("clusterstore/get", "The store and its buildpacks.", [p("name", S("Name"), True)], S("ClusterStore"), errors=("InvalidParams", "NotFound"))
method("clusterstore/status", "Every buildpack in the store with id, version, api, homepage, digest, its groups if composite, and the "
       "builders that use it.", [p("name", S("Name"), True)],
       obj({"name": STR, "buildpacks": arr(obj({"id": STR, "version": STR, "api": STR, "homepage": STR, "digest": S("Digest"),
                                                  "order": arr(arr(obj({"id": STR, "version": STR, "optional": BOOL}))),
                                                  "builders": arr(STR)}))}),
       errors=("InvalidParams", "NotFound"))
method("clusterstore/list", "ClusterStores by name, a page at a time.", [LIMIT, CONTINUE], obj({"stores": arr(S("ClusterStore")), "continue": NEXT}))
method("clusterstore/delete", "Deletes a ClusterStore.", [p("name", S("Name"), True)], NULL, errors=("InvalidParams", "NotFound"))

# Builders
for prefix, kind in (("clusterbuilder", "ClusterBuilder"), ("builder", "Builder")):
    scope = [NS] if prefix == "builder" else []
    spec = [p("name", S("Name"), True)] + scope + [p("stack", S("Name")), p("store", S("Name")), p("order", arr(S("OrderGroup")))]
    method(f"{prefix}/create", f"Creates a {kind}: a stack, a store and the detection order.",
           [dict(x, required=True) if x["name"] in ("stack", "store", "order") else x for x in spec], S("Builder"),
           errors=("InvalidParams", "AlreadyExists"))
    method(f"{prefix}/patch", f"Changes a {kind}'s stack, store or order.", spec, S("Builder"), errors=("InvalidParams", "NotFound"))
    for verb in ("get", "status"):
        method(f"{prefix}/{verb}", f"The {kind} with `ready`, its resolved buildpacks and detection order.",
               [p("name", S("Name"), True)] + scope, S("Builder"), errors=("InvalidParams", "NotFound"))
    method(f"{prefix}/list", f"{kind}s by name" + (" in a namespace" if scope else "") + ", a page at a time.", scope + [LIMIT, CONTINUE],
           obj({"builders": arr(S("Builder")), "continue": NEXT}), errors=("InvalidParams",))
    method(f"{prefix}/delete", f"Deletes a {kind}.", [p("name", S("Name"), True)] + scope, NULL, errors=("InvalidParams", "NotFound"))

# Images
image_params = [
    p("name", S("Name"), True), NS,
    p("tag", STR, desc="Where builds go: a registry reference host[:port]/repo[:tag] (pushed with the OCI distribution API, also as the "
                       "BuildNumber tag <tag>-b<N>.<YYYYMMDD>.<HHMMSS>), or oci:/absolute/dir[:tag] (an OCI image layout). Default: an OCI "
                       "layout under the state directory (STATE/layouts/NAMESPACE/NAME:latest). Immutable after create."),
    p("additionalTags", arr(STR), desc="More registry references in the same repository to tag each build with."),
    p("builder", S("BuilderReference"), desc='Default {"kind": "ClusterBuilder", "name": "default"}.'),
    p("source", S("SourceSpec")),
    p("env", {"type": "object", "additionalProperties": STR}, desc="Build-time environment; on patch, merged into the image's env."),
    p("deleteEnv", arr(STR), desc="Patch only: env names to remove."),
    p("strategy", {"enum": ["buildpacks", "dockerfile"]}, desc="Only buildpacks is supported in this version."),
    p("dockerfile", STR),
    p("buildTimeout", INT, desc="Seconds (default 600); a build taking longer ends as FAILURE."),
    p("successBuildHistoryLimit", INT, desc="Successful builds kept (default 10)."),
    p("failedBuildHistoryLimit", INT, desc="Failed builds kept (default 10)."),
    p("dryRun", BOOL, desc="Validate and report without storing or building."),
    p("clearCache", BOOL, desc="Patch only: empty the image's build cache; the next build starts cold."),
]
create_params = [dict(x, required=True) if x["name"] == "source" else x for x in image_params]
# Git sources resolve when the image is created or patched, and every --git-poll-interval seconds after.
method("image/create", "Creates an image (a build configuration) and starts build 1 with reason CONFIG. Local source is snapshotted now. "
       "At most the namespace's image quota (--quota images=, default 100); params at most 1 MiB, env at most 1,000 entries of at most 32 KiB each.",
       create_params, obj({"image": S("Image"), "build": INT}),
       errors=("InvalidParams", "AlreadyExists", "NotFound", "PermissionDenied", "Unavailable", "QuotaExceeded"))
change = obj({"image": S("Image"), "changed": BOOL, "build": INT},
             desc="changed:false (and no build) when no build input changed; otherwise the build carrying the change.")
method("image/patch", "Changes an image; starts a build only if a build input changed (a queued build takes the change). The tag cannot change.",
       image_params, change, errors=("InvalidParams", "NotFound", "FailedPrecondition", "PermissionDenied", "QuotaExceeded"))
method("image/save", "Creates the image if it does not exist, else patches it.", image_params, change,
       errors=("InvalidParams", "NotFound", "FailedPrecondition", "PermissionDenied", "QuotaExceeded"))
method("image/get", "The image: its configuration and status.", [p("name", S("Name"), True), NS], S("Image"), errors=("InvalidParams", "NotFound"))
method("image/status", "What `kp image status` shows.", [p("name", S("Name"), True), NS], S("ImageStatusResult"), errors=("InvalidParams", "NotFound"))
method("image/list", "Image rows, in one namespace or all, by namespace and name, a page at a time.",
       [NS, p("allNamespaces", BOOL), p("filter", obj({"ready": S("ReadyState"), "builder": STR, "latestReason": STR})), LIMIT, CONTINUE],
       obj({"images": arr(S("ImageRow")), "continue": NEXT}))
method("image/delete", "Deletes the image with all its builds, runs, logs and cache, and its default OCI layout under the state directory "
       "(garbage collection removes what only it used); images written to a tag of your own (a registry, or an oci: layout elsewhere) stay.", [p("name", S("Name"), True), NS], NULL,
       errors=("InvalidParams", "NotFound"))
method("image/trigger", "Starts a build with reason TRIGGER from the stored source snapshot.", [p("name", S("Name"), True), NS],
       obj({"build": INT}), errors=("InvalidParams", "NotFound", "FailedPrecondition", "QuotaExceeded"))

# Quotas
amounts = obj({"images": INT, "buildruns": INT, "storage": {"type": "integer", "description": "Bytes."}},
              desc="Per resource; a limit that is absent is unlimited.")
method("quota/get", "A namespace's quota (--quota) and what it holds now: images, stand-alone build runs, and bytes of stored data "
       "(its image layouts, build caches, logs and source snapshots; a file counts in full for every namespace that refers to it).",
       [NS], obj({"namespace": STR, "limits": amounts, "used": amounts}, ["namespace", "limits", "used"]))

# The state directory
method("system/gc", "Mark and sweep: removes what no image, retained build, stack, store or running build reaches (images' layouts and "
       "layers, source snapshots, unpacked stacks, buildpacks, caches and logs of deleted images). It also runs by itself after deletions and "
       "retention. A file written or reused since the collection began is kept, so builds may run meanwhile.",
       [p("dryRun", BOOL, desc="Count what would be freed; remove nothing.")],
       obj({"dryRun": BOOL, "freed": arr(obj({"kind": {"enum": ["blobs", "buildpacks", "caches", "images", "logs", "stacks"]}, "count": INT,
                                               "bytes": INT}, ["kind", "count", "bytes"])),
            "totalBytes": INT}, ["dryRun", "freed", "totalBytes"]))
method("system/df", "What the state directory holds, by kind, as docker system df shows it (a file with several links counted once), "
       "with the bytes system/gc would give back.", [],
       obj({"kinds": arr(obj({"kind": {"enum": ["images", "layers", "sources", "stacks", "buildpacks", "caches", "logs", "unreferenced", "events"]},
                              "count": INT, "bytes": INT, "reclaimable": INT}, ["kind", "count", "bytes", "reclaimable"])),
            "totalBytes": INT}, ["kinds", "totalBytes"]), errors=())

# Secrets
method("secret/create", "Stores credentials: registry username/password, a docker config file, or git (username/password or sshKey) for a URL "
       "prefix. Values are kept in 0600 files and never appear in any response, log line, event or error.",
       [p("name", S("Name"), True), NS,
        p("registry", obj({"server": STR, "username": STR, "password": STR}, ["server", "username", "password"])),
        p("dockerConfig", obj({"path": STR}, ["path"], "Absolute path of a docker config.json; its content is stored.")),
        p("git", obj({"url": STR, "username": STR, "password": STR, "sshKey": STR}, ["url"],
                     "Used for git sources whose URL starts with `url` (the longest match wins)."))],
       S("SecretInfo"), errors=("InvalidParams", "AlreadyExists"))
method("secret/list", "Secrets in a namespace by name, without their values, a page at a time.", [NS, LIMIT, CONTINUE],
       obj({"secrets": arr(S("SecretInfo")), "continue": NEXT}))
method("secret/delete", "Deletes a secret and its stored values.", [p("name", S("Name"), True), NS], NULL, errors=("InvalidParams", "NotFound"))

# Build runs
run_ref = [p("name", S("Name"), True), NS]
method("buildrun/submit", "Submits a build run, as a code engine does: with `image`, one more build of that image (build N+1, reason TRIGGER, as "
       "image/trigger); otherwise a stand-alone build from `source` with no configuration behind it, deleted --buildrun-ttl-succeeded (1 h) after "
       "it succeeds and --buildrun-ttl-failed (24 h) after it fails. Stand-alone runs count against the namespace's buildruns quota. "
       "A run logs, reports status and emits events as builds do; notifications of a stand-alone run carry `buildrun` instead of image and build.",
       [p("name", S("Name"), desc="Generated when absent: <image or buildrun>-run-<6 characters>."), NS,
        p("image", S("Name"), desc="A run of this image's configuration."),
        p("source", S("SourceSpec"), desc="Stand-alone: where the source comes from (local, git or blob; subPath)."),
        p("strategy", {"enum": ["buildpacks", "dockerfile"]}, desc="Stand-alone: buildpacks (default); dockerfile is not supported yet."),
        p("builder", S("BuilderReference"), desc="Stand-alone: default ClusterBuilder/default."),
        p("tag", STR, desc="Stand-alone: where the image goes; without it an OCI layout that goes away with the run."),
        p("env", {"type": "object", "additionalProperties": STR}), p("timeout", INT, desc="Stand-alone: seconds (default 600).")],
       S("BuildRun"), errors=("InvalidParams", "NotFound", "AlreadyExists", "FailedPrecondition", "PermissionDenied", "Unavailable", "QuotaExceeded"))
method("buildrun/get", "A build run and its status. For a day after a stand-alone run expired, NotFound says so and when (data.expired).",
       run_ref, S("BuildRun"), errors=("InvalidParams", "NotFound"))
method("buildrun/list", "Build runs of a namespace by name, a page at a time.", [NS, LIMIT, CONTINUE],
       obj({"buildruns": arr(S("BuildRun")), "continue": NEXT}))
method("buildrun/logs", "As build/logs, for a run.", run_ref + [p("follow", BOOL), p("since", INT, desc="First line number to send (from 1).")],
       obj({"name": STR, "status": S("BuildState"), "lines": arr(S("BuildLogLine"))}, ["name", "status"]), errors=("InvalidParams", "NotFound"))
method("buildrun/wait", "Waits until the run ends (or timeout seconds pass).", run_ref + [p("timeout", NUM)], S("BuildRun"),
       errors=("InvalidParams", "NotFound", "RequestCancelled"))
method("buildrun/cancel", "Cancels a queued or running run: it ends as FAILURE with message \"canceled\".", run_ref, S("BuildRun"),
       errors=("InvalidParams", "NotFound", "FailedPrecondition"))
method("buildrun/delete", "Deletes a run. A stand-alone run goes with its build, log, cache and (without a tag) its image; a run of an image "
       "stops being a run, and its build stays in the image's history.", run_ref, NULL, errors=("InvalidParams", "NotFound"))
method("buildrun/events", "The events of a run (object kind BuildRun), a page at a time; also for a run that is gone, until they expire.",
       run_ref + [LIMIT, CONTINUE], obj({"events": arr(S("SystemEvent")), "continue": NEXT}))

# Builds
build_ref = [p("image", S("Name"), True), NS, p("build", INT, desc="Build number; default the latest build.")]
method("build/list", "Build rows as `kp build list` shows them, by image and number, a page at a time.", [p("image", S("Name")), NS, LIMIT, CONTINUE],
       obj({"builds": arr(S("BuildRow")), "continue": NEXT}),
       errors=("InvalidParams", "NotFound"))
method("build/status", "Everything `kp build status` shows.", build_ref, S("BuildStatus"), errors=("InvalidParams", "NotFound"))
method("build/logs", "Without follow: the lines. With follow: lines arrive as build/log notifications from `since` until the build ends "
       "(all sent before the reply), then the result has the final status.",
       build_ref + [p("follow", BOOL), p("since", INT, desc="First line number to send (from 1)."),
                    p("workDoneToken", {"type": ["string", "integer"]}, desc="LSP: with follow, report $/progress begin and end.")],
       obj({"build": INT, "status": S("BuildState"), "lines": arr(S("BuildLogLine"))}), errors=("InvalidParams", "NotFound"))
method("build/wait", "Waits for the build to finish (or `timeout` seconds) and returns its status. Cancellable with $/cancelRequest.",
       build_ref + [p("timeout", NUM), p("workDoneToken", {"type": ["string", "integer"]}, desc="LSP: report $/progress begin and end.")], S("BuildStatus"), errors=("InvalidParams", "NotFound", "RequestCancelled"))
method("build/cancel", "Cancels a queued or running build: it ends as FAILURE with message \"canceled\".", build_ref, S("BuildStatus"),
       errors=("InvalidParams", "NotFound", "FailedPrecondition"))
method("event/list", "System events kept for --event-ttl (default 60 minutes), in the order they last happened, a page at a time. "
       "The same object, reason and message again bump count and lastTime (as kubectl aggregates).",
       [NS, p("object", S("EventObject"), desc="Only the events of this object (kind and name)."),
        p("type", {"enum": ["Normal", "Warning"]}), p("reason", STR),
        p("since", S("Timestamp"), desc="Only events whose lastTime is at or after this time, so a bumped event shows up again."),
        LIMIT, CONTINUE],
       obj({"events": arr(S("SystemEvent")), "continue": NEXT}))

schemas = {
    "Name": {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63, "description": "A DNS label."},
    "Digest": {"type": "string", "pattern": "^sha256:[0-9a-f]{64}$"},
    "Timestamp": {"type": "string", "format": "date-time"},
    "StackImageReference": {"type": "string", "description": "A registry reference host[:port]/repo[:tag|@digest] (pulled with the "
                            "credentials of namespace default), oci:/dir[:tag] (OCI image layout), or a root filesystem folder (rootfs:/dir or an absolute path)."},
    "NotificationKind": {"enum": ["build/log", "build/statusChanged", "image/statusChanged", "event"]},
    "ReadyState": {"enum": ["Ready", "NotReady", "Building", "Unknown"]},
    "BuildState": {"enum": ["QUEUED", "BUILDING", "SUCCESS", "FAILURE"]},
    "ReasonKind": {"enum": ["CONFIG", "COMMIT", "BUILDER", "STACK", "TRIGGER"]},
    "InitializeResult": obj({
        "serverInfo": obj({"name": STR, "version": STR}),
        "capabilities": obj({"methods": arr(STR), "clientNotifications": arr(STR), "notifications": arr(STR), "framings": arr(STR),
                             "maxMessageSize": INT, "buildStrategies": arr(STR), "sourceTypes": arr(STR)})}),
    "BuilderReference": obj({"kind": {"enum": ["ClusterBuilder", "Builder"]}, "name": S("Name")}, ["kind", "name"]),
    "SourceSpec": obj({
        "git": obj({"url": STR, "revision": {"type": "string", "description": "A branch, a tag or a full commit SHA; default the remote's default branch."},
                    "poll": {"type": "boolean", "description": "Poll the branch or tag for new commits (default true; a commit is never polled)."}}, ["url"],
                   "https://, http://, ssh://, git://, file:// or user@host:path; no credentials in the URL (use a git secret)."),
        "blob": obj({"url": STR, "stripComponents": INT}, ["url"],
                    "An http://, https:// or file:// URL of a .zip/.jar/.tar/.tar.gz archive; the digest of the archive decides whether a patch is a change."),
        "local": obj({"path": STR}, ["path"], "An absolute path to a folder (.git/ skipped, .slipwayignore honoured) or a "
                     ".zip/.jar/.tar/.tar.gz/.tgz file."),
        "subPath": STR,
        "resolved": obj({"snapshot": obj({"digest": S("Digest"), "files": INT, "bytes": INT}), "ref": STR, "commit": STR, "pinned": BOOL,
                         "archiveDigest": S("Digest"), "time": S("Timestamp")},
                        desc="Set by the server: what the source resolved to (ignored in params).")},
        desc="Exactly one of git, blob, local."),
    "OrderGroup": obj({"group": arr(obj({"id": STR, "version": STR, "optional": BOOL}, ["id"]))}, ["group"]),
    "ClusterStack": obj({"name": STR, "id": STR, "buildImage": STR, "runImage": STR, "status": obj({
        "ready": BOOL, "buildImageDigest": S("Digest"), "runImageDigest": S("Digest"), "resolvedBuildImage": STR,
        "resolvedRunImage": STR, "message": STR,
        "os": {"type": "string", "description": "The build image's OS (linux)."},
        "architecture": {"type": "string", "description": "The build image's architecture (amd64, arm64, …)."}})}),
    "ClusterStore": obj({"name": STR, "buildpacks": arr(obj({"id": STR, "version": STR, "api": STR, "homepage": STR, "name": STR,
                                                           "digest": S("Digest"), "source": STR,
                                                           "descriptor": S("BuildpackDescriptor")}))}),
    "BuildpackDescriptor": obj({"api": STR, "id": STR, "version": STR, "name": STR, "homepage": STR,
                                "clearEnv": {"type": "boolean", "description": "clear-env: user env is not given to the buildpack."},
                                "stacks": arr(STR), "targets": {"type": "array", "items": STR, "description": "os/arch pairs ([[targets]])."},
                                "order": arr(arr(obj({"id": STR, "version": STR, "optional": BOOL})))},
                               desc="What the buildpack's buildpack.toml says."),
    "Builder": obj({"kind": STR, "namespace": STR, "name": STR, "stack": STR, "store": STR, "order": arr(S("OrderGroup")), "status": obj({
        "ready": BOOL, "message": STR, "stackID": STR, "runImage": STR, "buildImage": STR,
        "buildpacks": arr(S("BuildpackInfo")), "order": arr(S("OrderGroup"))})}),
    "BuildpackInfo": obj({"id": STR, "version": STR, "homepage": STR}),
    "Image": obj({"namespace": STR, "name": STR, "tag": STR, "additionalTags": arr(STR), "builder": S("BuilderReference"),
                  "source": S("SourceSpec"), "env": {"type": "object"}, "strategy": STR, "buildTimeout": INT,
                  "successBuildHistoryLimit": INT, "failedBuildHistoryLimit": INT, "created": S("Timestamp"), "status": obj({
                      "ready": S("ReadyState"), "message": STR, "latestImage": STR, "latestBuild": INT, "latestReason": STR,
                      "lastSuccessfulBuild": S("BuildSummary"), "lastFailedBuild": S("BuildSummary"), "nextBuildNumber": INT})}),
    "BuildSummary": obj({"number": INT, "reason": STR}),
    "ImageStatusResult": obj({"name": STR, "namespace": STR, "tag": STR, "ready": S("ReadyState"), "message": STR,
                              "latestImage": {"type": "string", "description": "repo@sha256:… of the latest successful build"},
                              "latestBuild": INT, "latestReason": STR, "lastSuccessfulBuild": S("BuildSummary"),
                              "lastFailedBuild": S("BuildSummary"), "source": S("SourceInfo"), "builder": S("BuilderReference"),
                              "cacheBytes": {"type": "integer", "description": "Bytes in the image's build cache."}}),
    "SourceInfo": obj({"type": {"enum": ["Git", "Blob", "Local Source"]}, "url": STR, "revision": {"type": "string", "description": "Git: the commit SHA."},
                       "ref": {"type": "string", "description": "Git: the branch or tag followed."}, "path": STR, "digest": STR, "subPath": STR}),
    "SecretInfo": obj({"name": STR, "namespace": STR, "type": {"enum": ["registry", "dockerConfig", "git-basic", "git-ssh"]}, "server": STR, "url": STR,
                       "created": S("Timestamp")}, desc="Never includes the secret's values."),
    "ImageRow": obj({"name": STR, "namespace": STR, "ready": S("ReadyState"), "latestReason": STR, "latestImage": STR, "builder": STR}),
    "BuildReason": obj({"reason": S("ReasonKind"), "field": STR, "old": STR, "new": STR}),
    "BuildRow": obj({"namespace": STR, "imageName": STR, "number": INT, "status": S("BuildState"), "image": STR,
                     "started": S("Timestamp"), "finished": S("Timestamp"), "reasons": arr(S("ReasonKind")),
                     "reasonSummary": {"type": "string", "description": "Highest of CONFIG > COMMIT > BUILDER, else the first; + when more (CONFIG+)."}}),
    "BuildStatus": obj({"namespace": STR, "imageName": STR, "number": INT, "image": STR, "imageDigest": S("Digest"), "status": S("BuildState"),
                        "phase": STR, "reasons": arr(S("BuildReason")), "reasonSummary": STR, "builder": STR, "runImage": STR, "stackID": STR,
                        "source": S("SourceInfo"), "buildpacks": arr(S("BuildpackInfo")), "created": S("Timestamp"),
                        "started": S("Timestamp"), "finished": S("Timestamp"), "message": STR}),
    "BuildLogLine": obj({"namespace": STR, "image": STR, "build": INT,
                         "buildrun": {"type": "string", "description": "A stand-alone build run's lines carry its name instead of image and build."},
                         "seq": INT,
                         "phase": {"type": "string", "description": "prepare, detect, analyze, restore, build, export or completion; rebase for a rebase"},
                         "stream": {"enum": ["stdout", "stderr", "system"]}, "line": STR, "time": S("Timestamp")}),
    "EventObject": obj({"kind": {"type": "string", "description": "Image, BuildRun, Secret, ClusterStack, ClusterStore, ClusterBuilder, Builder"},
                        "namespace": STR, "name": STR}, ["kind", "name"]),
    "BuildRun": obj({"namespace": STR, "name": STR, "image": {"type": "string", "description": "A run of an image: the image."},
                     "build": {"type": "integer", "description": "A run of an image: the build of it this run is."},
                     "standalone": {"type": "boolean", "description": "No build configuration behind it: deleted --buildrun-ttl-* after it ends."},
                     "status": S("BuildState"), "phase": STR, "message": STR, "reasons": arr(S("ReasonKind")), "builder": STR,
                     "source": S("SourceInfo"), "buildpacks": arr(S("BuildpackInfo")),
                     "output": {"type": "string", "description": "The image made: oci:<layout>@sha256:… (a stand-alone run without a tag keeps it in a "
                                "layout that goes with the run), or the pushed repo@sha256:…"},
                     "created": S("Timestamp"), "started": S("Timestamp"), "finished": S("Timestamp"),
                     "deleteAt": {"$ref": "#/components/schemas/Timestamp", "description": "A stand-alone run that ended: when it is deleted."}},
                    ["namespace", "name", "standalone", "status", "created"]),
    "SystemEvent": obj({"id": INT, "type": {"enum": ["Normal", "Warning"]}, "reason": STR, "message": STR, "object": S("EventObject"),
                        "time": {"$ref": "#/components/schemas/Timestamp", "description": "The same as lastTime."}, "count": INT,
                        "firstTime": S("Timestamp"), "lastTime": S("Timestamp")}),
}


def err(code, reason, message):
    return {"code": code, "message": message, "data": {"reason": reason}}


errors = {
    "InvalidRequest": err(-32600, "InvalidRequest", "Invalid Request"),
    "InvalidParams": err(-32602, "InvalidParams", "A param is missing, of the wrong type, or invalid; data.field names it."),
    "RequestCancelled": err(-32800, "RequestCancelled", "Request cancelled by $/cancelRequest"),
    "NotFound": err(1001, "NotFound", "The named object does not exist."),
    "AlreadyExists": err(1002, "AlreadyExists", "An object with that name exists."),
    "FailedPrecondition": err(1003, "FailedPrecondition", "The object is not in a state that allows this."),
    "Conflict": err(1004, "Conflict", "Concurrent modification."),
    "QuotaExceeded": err(1005, "QuotaExceeded", "A namespace's quota was reached; data.resource (images, buildruns, storage), data.limit and data.used say which; nothing was changed."),
    "Unavailable": err(1006, "Unavailable", "A dependency (registry, git remote, sandbox tool) cannot be reached or is missing."),
    "PermissionDenied": err(1007, "PermissionDenied", "Credentials refused, or a path outside what the server may read."),
}

doc = {
    "openrpc": "1.3.2",
    "info": {"title": "Slipway", "version": "0.1.0",
             "description": "A container image build service speaking JSON-RPC 2.0 over stdin/stdout. Framing, lifecycle, errors and "
                            "server-to-client notifications are described in spec/protocol.md."},
    "methods": methods,
    "components": {"schemas": schemas, "errors": errors},
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openrpc.json")
with open(out, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
print(f"wrote {len(methods)} methods to {out}")
