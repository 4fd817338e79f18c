-- Slipway for Neovim: builds the project that is open into an image, streams the build's log,
-- and shows the image's state. It talks to `slipway` (which joins or starts the shared engine
-- of its state directory) with Neovim's own RPC client, `vim.lsp.rpc` (Neovim 0.7 and later),
-- in LSP framing, which Slipway detects.
local M = {}

local config = {
  -- The command that starts a client: `slipway` and its flags (`--state-dir DIR`, …).
  cmd = { "slipway" },
  namespace = "default",
}

-- The JSON-RPC error code of NotFound (the brief's table).
local NOT_FOUND = 1001

-- The RPC client, started on first use; state per image.
local rpc
local images = {}   -- name → { state = "building" | "ready" | "failed", build = N, lines = { … } }
local log_buffers = {} -- name → buffer number of its :SlipwayLogs buffer

local function notify(msg, level)
  vim.schedule(function() vim.notify("slipway: " .. msg, level or vim.log.levels.INFO) end)
end

local function image_state(name)
  images[name] = images[name] or { state = "unknown", lines = {} }
  return images[name]
end

local function append_to_log_buffer(name, text)
  local buf = log_buffers[name]
  if buf and vim.api.nvim_buf_is_valid(buf) then
    vim.api.nvim_buf_set_lines(buf, -1, -1, false, { text })
  end
end

-- Keeps one log line of the image's build (a `build/log` notification, or a line of `build/logs`).
local function record_line(st, l)
  local text = string.format("[%10s] %s", l.phase or "", l.line or "")
  table.insert(st.lines, { text = text, line = l.line or "", stream = l.stream, phase = l.phase })
  return text
end

local function on_notification(method, params)
  if method == "build/log" and params and params.image then
    local st = image_state(params.image)
    if params.build == st.build then
      local text = record_line(st, params)
      vim.schedule(function() append_to_log_buffer(params.image, text) end)
    end
  elseif method == "build/statusChanged" and params and params.image then
    local st = image_state(params.image)
    if params.build == st.build and params.status == "BUILDING" then st.state = "building" end
  end
end

-- Why `slipway` cannot be started (nil when it can): the command is not an executable.
function M.missing_executable()
  local exe = config.cmd[1]
  if exe and vim.fn.executable(exe) == 1 then return nil end
  return string.format("%s was not found%s. Install Slipway so that slipway is on PATH (\"Install\" in its README), "
    .. "or give its full path: require('slipway').setup({ cmd = { '/path/to/slipway' } })",
    tostring(exe), (exe and not exe:find("/", 1, true)) and " on PATH" or "")
end

-- The RPC client, started on first use; nil and why when it cannot start.
local function client()
  if rpc then return rpc end
  local missing = M.missing_executable()
  if missing then return nil, missing end
  local cmd = config.cmd
  local dispatchers = { notification = on_notification, on_exit = function() rpc = nil end }
  if vim.fn.has("nvim-0.10") == 1 then
    rpc = vim.lsp.rpc.start(cmd, dispatchers)  -- 0.10 takes the command as one list
  else
    rpc = vim.lsp.rpc.start(cmd[1], vim.list_slice(cmd, 2), dispatchers)
  end
  if not rpc then return nil, "could not start " .. table.concat(cmd, " ") end
  return rpc
end

--- Sends a request; `callback(err, result)` runs on Neovim's main loop.
function M.request(method, params, callback)
  local c, why = client()
  if not c then return vim.schedule(function() callback({ message = why }, nil) end) end
  c.request(method, params or vim.empty_dict(), function(err, result)
    vim.schedule(function() callback(err, result) end)
  end)
end

--- Sends a request and waits for its answer (at most `timeout` ms): returns err, result.
function M.call(method, params, timeout)
  local c, why = client()
  if not c then return { message = why }, nil end
  local done, err, result = false, nil, nil
  c.request(method, params or vim.empty_dict(), function(e, r) err, result, done = e, r, true end)
  vim.wait(timeout or 600000, function() return done end, 10)
  if not done then return { message = "no answer from slipway to " .. method }, nil end
  return err, result
end

local function error_text(err)
  return type(err) == "table" and (err.message or vim.inspect(err)) or tostring(err)
end

-- The image name for a folder: its base name as a DNS label.
local function default_image_name(dir)
  local name = vim.fn.fnamemodify(dir, ":t"):lower():gsub("[^a-z0-9-]", "-"):gsub("^-+", ""):gsub("-+$", "")
  if name == "" then name = "app" end
  return name:sub(1, 63)
end

-- The `builder` of the folder's project.toml (`[io.buildpacks] builder = "…"`), if any.
local function project_builder(dir)
  local path = dir .. "/project.toml"
  if vim.fn.filereadable(path) == 0 then return nil end
  local section
  for _, line in ipairs(vim.fn.readfile(path)) do
    local s = line:match("^%s*%[([^%]]+)%]%s*$")
    if s then section = s end
    local value = line:match('^%s*builder%s*=%s*"([^"]+)"')
    if value and (section == "io.buildpacks" or section == nil) then return value end
  end
  return nil
end

-- The builder an image uses, as in kp: g:slipway_builder, else the project.toml's, else the
-- ClusterBuilder `default`. `Builder/NAME` names a namespaced Builder; anything else a
-- ClusterBuilder. Nil, with why, when there is none.
function M.builder_for(dir)
  local given = vim.g.slipway_builder
  local from = "g:slipway_builder"
  if given == nil or given == "" then
    given, from = project_builder(dir), dir .. "/project.toml"
  end
  if given == nil then given, from = "default", "the default" end
  local kind, name = given:match("^(%a+)/(.+)$")
  local ref = (kind == "Builder") and { kind = "Builder", name = name } or { kind = "ClusterBuilder", name = name or given }
  local method = ref.kind == "Builder" and "builder/get" or "clusterbuilder/get"
  local err = M.call(method, { name = ref.name, namespace = ref.kind == "Builder" and config.namespace or nil })
  if err then
    return nil, string.format("no %s %q (%s). Set one with :let g:slipway_builder = 'NAME' (a ClusterBuilder, or Builder/NAME), "
      .. "or builder = \"NAME\" under [io.buildpacks] in project.toml, or create the ClusterBuilder default", ref.kind, ref.name, from)
  end
  return ref
end

-- Says why a command cannot run when `slipway` is missing (one message, no Lua error): true when it can.
local function can_run()
  local missing = M.missing_executable()
  if missing then notify(missing, vim.log.levels.ERROR) end
  return missing == nil
end

-- Shows in the image's :SlipwayLogs buffer (when it is open) the lines of its build.
local function log_buffer_show(name)
  local buf = log_buffers[name]
  if buf and vim.api.nvim_buf_is_valid(buf) then
    local lines = {}
    for _, l in ipairs(image_state(name).lines) do table.insert(lines, l.text) end
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  end
end

-- Follows build `number` of `name` to its end; fills the quickfix list when it fails.
local function follow(name, number)
  local st = image_state(name)
  st.build, st.state, st.lines = number, "building", {}
  log_buffer_show(name)
  M.request("build/logs", { image = name, namespace = config.namespace, build = number, follow = true }, function(err)
    if err then
      st.state = "failed"
      notify("following build " .. number .. " of " .. name .. ": " .. error_text(err), vim.log.levels.ERROR)
      return
    end
    M.request("build/status", { image = name, namespace = config.namespace, build = number }, function(e, b)
      if e or not b then
        st.state = "failed"
        return
      end
      if b.status == "SUCCESS" then
        st.state = "ready"
        notify(string.format("build %d of %s succeeded: %s", number, name, b.image or ""))
      else
        st.state = "failed"
        M.fill_quickfix(name, b.message)
        notify(string.format("build %d of %s failed: %s", number, name, b.message or ""), vim.log.levels.ERROR)
      end
    end)
  end)
end

-- Loads the last build of `name` (its status and log) when this session follows none yet, so
-- a new session shows what the image already has; a build still running is followed. Runs once
-- per image; `st.attach` is "loading", then "loaded".
local function attach(name)
  local st = image_state(name)
  if st.attach then return end
  if st.build or M.missing_executable() then st.attach = "loaded" return end
  st.attach = "loading"
  local function loaded()
    st.attach = "loaded"
    log_buffer_show(name)
    vim.cmd("redrawstatus")
  end
  -- On the main loop: 'statusline' asks while the screen is drawn.
  vim.schedule(function()
    M.request("image/status", { name = name, namespace = config.namespace }, function(err, s)
      if err or not s or not s.latestBuild or st.build then return loaded() end
      st.root = st.root or (s.source and s.source.path)
      local number = s.latestBuild
      M.request("build/status", { image = name, namespace = config.namespace, build = number }, function(e, b)
        if e or not b or st.build then return loaded() end
        if b.status ~= "SUCCESS" and b.status ~= "FAILURE" then
          follow(name, number)
          return loaded()
        end
        M.request("build/logs", { image = name, namespace = config.namespace, build = number }, function(_, logs)
          if st.build then return loaded() end
          st.build, st.state, st.lines = number, b.status == "SUCCESS" and "ready" or "failed", {}
          for _, l in ipairs(logs and logs.lines or {}) do record_line(st, l) end
          loaded()
        end)
      end)
    end)
  end)
end

-- Waits (at most `timeout` ms) until the last build of `name` is loaded.
local function attach_and_wait(name, timeout)
  attach(name)
  local st = image_state(name)
  vim.wait(timeout or 10000, function() return st.attach == "loaded" end, 10)
end

-- The file a log line names, in the project at `root`: the path as given (relative to the
-- root), or for an absolute path in the build's workspace (`/workspace/src/main.c`) the
-- shortest tail of it that is a file of the project. Nil when no such file exists; a path
-- with `..` is never followed out of the project.
local function project_file(root, path)
  if not root or ("/" .. path .. "/"):find("/%.%./") then return nil end
  local parts = vim.split(path, "/", { plain = true, trimempty = true })
  local last = path:sub(1, 1) == "/" and #parts or 1
  for i = 1, last do
    local candidate = root .. "/" .. table.concat(parts, "/", i)
    if vim.fn.filereadable(candidate) == 1 then return candidate end
  end
  return nil
end

--- Where a build log line points in the project at `root`: file, line, column (or nil) and the
--- text to show. Understands `file:line:col: …` and `file:line: …` anywhere in the line
--- (`main.c:3:5: error: …`, `error: main.c:3: …`, `Dockerfile:4: …`) and Python's
--- `File "x.py", line 3`; only files that exist in the project count.
function M.locate(line, root)
  local file, lnum = line:match('File "([^"]+)", line (%d+)')
  if file then
    local path = project_file(root, file)
    if path then return path, tonumber(lnum), nil, line end
  end
  for at, f, l, sep, c in line:gmatch("()([^%s:\"'(),]+):(%d+)(:?)(%d*)") do
    local path = project_file(root, f)
    if path then
      local col = (sep == ":" and c ~= "") and tonumber(c) or nil
      local text = line
      if line:sub(1, at - 1):match("^%s*$") then
        -- The location starts the line: the text is what follows it.
        local location = f .. ":" .. l .. (col and (":" .. c) or "")
        text = line:sub(at + #location):gsub("^:?%s*", "")
      end
      return path, tonumber(l), col, text
    end
  end
  return nil, nil, nil, line
end

--- Puts the error lines of the image's last followed build in the quickfix list: what went to
--- stderr, lines that say error or fatal, Slipway's ERROR lines, and lines that point at a file
--- of the project (`file:line[:col]`, resolved against the project root).
function M.fill_quickfix(name, message)
  local st = image_state(name)
  local root = st.root or vim.fn.getcwd()
  local items = {}
  for _, l in ipairs(st.lines) do
    local low = l.line:lower()
    local file, lnum, col, text = M.locate(l.line, root)
    if file or l.stream == "stderr" or low:find("error", 1, true) or low:find("fatal", 1, true) then
      table.insert(items, { filename = file, lnum = lnum or 0, col = col or 0, text = string.format("[%s] %s", l.phase or "", text),
                            type = low:find("warning", 1, true) and "W" or "E" })
    end
  end
  if #items == 0 and message then table.insert(items, { text = message, type = "E" }) end
  vim.fn.setqflist({}, " ", { title = "slipway: " .. name, items = items })
end

local function image_name(name)
  return (name and name ~= "") and name or default_image_name(vim.fn.getcwd())
end

--- The image name of the current folder (named after it).
function M.image_name() return image_name(nil) end

-- Starts following build `number` of `name`, which the project at `dir` builds.
local function start(name, number, dir)
  image_state(name).root = dir
  notify(string.format("building %s (build %d)", name, number))
  follow(name, number)
end

--- :SlipwayBuild [image] — creates the image for the current folder, or builds it again.
function M.build(name)
  if not can_run() then return end
  local dir = vim.fn.getcwd()
  name = image_name(name)
  local missing, existing = M.call("image/get", { name = name, namespace = config.namespace })
  if missing and missing.code ~= NOT_FOUND then return notify(error_text(missing), vim.log.levels.ERROR) end
  if existing then
    local err, patched = M.call("image/patch", { name = name, namespace = config.namespace, source = { ["local"] = { path = dir } } })
    if err then return notify(error_text(err), vim.log.levels.ERROR) end
    local number = patched and patched.build
    if not number then
      local e, triggered = M.call("image/trigger", { name = name, namespace = config.namespace })
      if e then return notify(error_text(e), vim.log.levels.ERROR) end
      number = triggered.build
    end
    return start(name, number, dir)
  end
  local builder, why = M.builder_for(dir)
  if not builder then return notify(why, vim.log.levels.ERROR) end
  local err, created = M.call("image/create", { name = name, namespace = config.namespace, builder = builder, source = { ["local"] = { path = dir } } })
  if err then return notify(error_text(err), vim.log.levels.ERROR) end
  start(name, created.build, dir)
end

--- :SlipwayTrigger [image] — builds the image again (a local source is snapshotted again) and
--- follows the build.
function M.trigger(name)
  if not can_run() then return end
  name = image_name(name)
  local err, triggered = M.call("image/trigger", { name = name, namespace = config.namespace })
  if err then return notify(error_text(err), vim.log.levels.ERROR) end
  local st = image_state(name)
  start(name, triggered.build, st.root)
end

--- :SlipwayCancel [image] — cancels the image's latest build if it is queued or running.
function M.cancel(name)
  if not can_run() then return end
  name = image_name(name)
  local err, b = M.call("build/cancel", { image = name, namespace = config.namespace })
  if err then return notify(error_text(err), vim.log.levels.ERROR) end
  notify(string.format("canceled build %d of %s", b.number, name))
  return b
end

--- :SlipwayLogs [image] — a scratch buffer streaming the build's lines, labelled with their phase.
function M.logs(name)
  if not can_run() then return end
  name = image_name(name)
  attach_and_wait(name)
  local buf = log_buffers[name]
  if not (buf and vim.api.nvim_buf_is_valid(buf)) then
    buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(buf, "slipway://" .. name .. "/logs")
    log_buffers[name] = buf
  end
  log_buffer_show(name)
  vim.cmd("botright split")
  vim.api.nvim_win_set_buf(0, buf)
  return buf
end

--- :SlipwayStatus [image] — the image's state, as `kp image status` gives it.
function M.status(name)
  if not can_run() then return end
  name = image_name(name)
  attach(name)
  local err, s = M.call("image/status", { name = name, namespace = config.namespace })
  if err then return notify(error_text(err), vim.log.levels.ERROR) end
  local text = string.format("%s: %s, latest build %s (%s), image %s", name, s.ready or "?", tostring(s.latestBuild or "-"),
    s.latestReason or "-", s.latestImage or "-")
  notify(text)
  return s
end

--- For 'statusline': the state of the current folder's image (or `name`'s). The first time it
--- is asked for an image it loads that image's last build (in the background).
function M.statusline(name)
  name = name or default_image_name(vim.fn.getcwd())
  attach(name)
  local st = images[name]
  if not st or st.state == "unknown" then return "" end
  if st.state == "building" then return string.format("slipway: building #%d", st.build or 0) end
  return string.format("slipway: %s #%d", st.state, st.build or 0)
end

--- Completes the commands' image argument: the namespace's images (and the current folder's
--- image name), those starting with `lead`. Nothing when slipway is missing or does not answer.
function M.complete(lead)
  local names = { [default_image_name(vim.fn.getcwd())] = true }
  if not M.missing_executable() then
    local err, result = M.call("image/list", { namespace = config.namespace }, 5000)
    for _, row in ipairs(not err and result and result.images or {}) do names[row.name] = true end
  end
  local matches = {}
  for n in pairs(names) do
    if vim.startswith(n, lead or "") then table.insert(matches, n) end
  end
  table.sort(matches)
  return matches
end

--- The state of `name` as this plugin follows it (for scripts and tests).
function M.state(name) return image_state(name) end

--- The settings in use (for :checkhealth slipway).
function M.config() return config end

local commands = {
  SlipwayBuild = { M.build, "Build the current folder into its image (or IMAGE)" },
  SlipwayTrigger = { M.trigger, "Build the image again and follow the build" },
  SlipwayCancel = { M.cancel, "Cancel the image's running or queued build" },
  SlipwayLogs = { M.logs, "Show the image's build log" },
  SlipwayStatus = { M.status, "Show the image's status" },
}

function M.setup(opts)
  config = vim.tbl_extend("force", config, opts or {})
  for command, spec in pairs(commands) do
    local run = spec[1]
    vim.api.nvim_create_user_command(command, function(args) run(args.args) end,
      { nargs = "?", complete = function(lead) return M.complete(lead) end, desc = spec[2], force = true })
  end
end

return M
