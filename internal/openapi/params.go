package openapi

// param is one operation parameter, in a form both document versions render.
type param struct {
	name        string
	in          string // "query" or "path"
	typ         string // "string", "integer", "boolean"
	description string
	required    bool
}

func queryParam(name, typ, description string) param {
	return param{name: name, in: "query", typ: typ, description: description}
}

func pathParam(name, description string) param {
	return param{name: name, in: "path", typ: "string", description: description, required: true}
}

// The parameters of the Kubernetes REST API, as upstream publishes them.
var (
	paramName      = pathParam("name", "name of the object")
	paramNamespace = pathParam("namespace", "object name and auth scope, such as for teams and projects")
	paramPath      = pathParam("path", "path to the resource")
	paramPretty    = queryParam("pretty", "string", "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).")

	paramAllowWatchBookmarks  = queryParam("allowWatchBookmarks", "boolean", "allowWatchBookmarks requests watch events with type \"BOOKMARK\". Servers that do not implement bookmarks may ignore this flag and bookmarks are sent at the server's discretion. Clients should not assume bookmarks are returned at any specific interval.")
	paramContinue             = queryParam("continue", "string", "The continue option should be set when retrieving more results from the server: the value is the continue token of the previous list response. The server answers 410 ResourceExpired when the token is too old.")
	paramFieldSelector        = queryParam("fieldSelector", "string", "A selector to restrict the list of returned objects by their fields. Defaults to everything.")
	paramLabelSelector        = queryParam("labelSelector", "string", "A selector to restrict the list of returned objects by their labels. Defaults to everything.")
	paramLimit                = queryParam("limit", "integer", "limit is a maximum number of responses to return for a list call. If more items exist, the server will set the `continue` field on the list metadata to a value that can be used with the same initial query to retrieve the next set of results.")
	paramResourceVersion      = queryParam("resourceVersion", "string", "resourceVersion sets a constraint on what resource versions a request may be served from. Defaults to unset.")
	paramResourceVersionMatch = queryParam("resourceVersionMatch", "string", "resourceVersionMatch determines how resourceVersion is applied to list calls. It is highly recommended that resourceVersionMatch be set for list calls where resourceVersion is set. Defaults to unset.")
	paramSendInitialEvents    = queryParam("sendInitialEvents", "boolean", "`sendInitialEvents=true` may be set together with `watch=true`. In that case, the watch stream will begin with synthetic events to produce the current state of objects in the collection, followed by a \"Bookmark\" event marking the end of that state.")
	paramTimeoutSeconds       = queryParam("timeoutSeconds", "integer", "Timeout for the list/watch call. This limits the duration of the call, regardless of any activity or inactivity.")
	paramWatch                = queryParam("watch", "boolean", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications. Specify resourceVersion.")

	paramDryRun          = queryParam("dryRun", "string", "When present, indicates that modifications should not be persisted. An invalid or unrecognized dryRun directive will result in an error response and no further processing of the request. Valid values are: - All: all dry run stages will be processed")
	paramFieldManager    = queryParam("fieldManager", "string", "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.")
	paramFieldValidation = queryParam("fieldValidation", "string", "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.")
	paramForce           = queryParam("force", "boolean", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.")

	paramGracePeriodSeconds   = queryParam("gracePeriodSeconds", "integer", "The duration in seconds before the object should be deleted. Value must be non-negative integer. The value zero indicates delete immediately. If this value is nil, the default grace period for the specified type will be used.")
	paramIgnoreStoreReadError = queryParam("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean", "if set to true, it will trigger an unsafe deletion of the resource in case the normal deletion flow fails with a corrupt object error.")
	paramOrphanDependents     = queryParam("orphanDependents", "boolean", "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7. Should the dependent objects be orphaned. If true/false, the \"orphan\" finalizer will be added to/removed from the object's finalizers list. Either this field or PropagationPolicy may be set, but not both.")
	paramPropagationPolicy    = queryParam("propagationPolicy", "string", "Whether and how garbage collection will be performed. Either this field or OrphanDependents may be set, but not both. Acceptable values are: 'Orphan', 'Background' (the default) and 'Foreground'.")
)

// Parameter sets of the standard operations.
var (
	listParams = []param{paramAllowWatchBookmarks, paramContinue, paramFieldSelector, paramLabelSelector,
		paramLimit, paramResourceVersion, paramResourceVersionMatch, paramSendInitialEvents, paramTimeoutSeconds, paramWatch}
	writeParams            = []param{paramDryRun, paramFieldManager, paramFieldValidation}
	patchParams            = []param{paramDryRun, paramFieldManager, paramFieldValidation, paramForce}
	deleteParams           = []param{paramDryRun, paramGracePeriodSeconds, paramIgnoreStoreReadError, paramOrphanDependents, paramPropagationPolicy}
	deleteCollectionParams = []param{paramContinue, paramDryRun, paramFieldSelector, paramGracePeriodSeconds,
		paramIgnoreStoreReadError, paramLabelSelector, paramLimit, paramOrphanDependents, paramPropagationPolicy,
		paramResourceVersion, paramResourceVersionMatch, paramSendInitialEvents, paramTimeoutSeconds}
)

// connectParams are the query parameters of the streaming subresources.
var connectParams = map[string][]param{
	"exec": {
		queryParam("command", "string", "Command is the remote command to execute. argv array. Not executed within a shell."),
		queryParam("container", "string", "Container in which to execute the command. Defaults to only container if there is only one container in the pod."),
		queryParam("stderr", "boolean", "Redirect the standard error stream of the pod for this call."),
		queryParam("stdin", "boolean", "Redirect the standard input stream of the pod for this call. Defaults to false."),
		queryParam("stdout", "boolean", "Redirect the standard output stream of the pod for this call."),
		queryParam("tty", "boolean", "TTY if true indicates that a tty will be allocated for the exec call. Defaults to false."),
	},
	"attach": {
		queryParam("container", "string", "The container in which to execute the command. Defaults to only container if there is only one container in the pod."),
		queryParam("stderr", "boolean", "Stderr if true indicates that stderr is to be redirected for the attach call. Defaults to true."),
		queryParam("stdin", "boolean", "Stdin if true, redirects the standard input stream of the pod for this call. Defaults to false."),
		queryParam("stdout", "boolean", "Stdout if true indicates that stdout is to be redirected for the attach call. Defaults to true."),
		queryParam("tty", "boolean", "TTY if true indicates that a tty will be allocated for the attach call. This is passed through the container runtime so the tty is allocated on the worker node by the container runtime. Defaults to false."),
	},
	"portforward": {
		queryParam("ports", "integer", "List of ports to forward Required when using WebSockets"),
	},
}

// logParams are the query parameters of pods/log.
var logParams = []param{
	queryParam("container", "string", "The container for which to stream logs. Defaults to only container if there is one container in the pod."),
	queryParam("follow", "boolean", "Follow the log stream of the pod. Defaults to false."),
	queryParam("insecureSkipTLSVerifyBackend", "boolean", "insecureSkipTLSVerifyBackend indicates that the apiserver should not confirm the validity of the serving certificate of the backend it is connecting to."),
	queryParam("limitBytes", "integer", "If set, the number of bytes to read from the server before terminating the log output. This may not display a complete final line of logging, and may return slightly more or slightly less than the specified limit."),
	queryParam("previous", "boolean", "Return previous terminated container logs. Defaults to false."),
	queryParam("sinceSeconds", "integer", "A relative time in seconds before the current time from which to show logs. If this value precedes the time a pod was started, only logs since the pod start will be returned."),
	queryParam("stream", "string", "Specify which container log stream to return to the client. Acceptable values are \"All\", \"Stdout\" and \"Stderr\". If not specified, \"All\" is used."),
	queryParam("tailLines", "integer", "If set, the number of lines from the end of the logs to show. If not specified, logs are shown from the creation of the container or sinceSeconds or sinceTime"),
	queryParam("timestamps", "boolean", "If true, add an RFC3339 or RFC3339Nano timestamp at the beginning of every line of log output. Defaults to false."),
}
