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

local function on_notification(method, params)
  if method == "build/log" and params and params.image then
    local st = image_state(params.image)
    if params.build == st.build then
      local text = string.format("[%10s] %s", params.phase or "", params.line or "")
      table.insert(st.lines, { text = text, line = params.line or "", stream = params.stream, phase = params.phase })
      vim.schedule(function() append_to_log_buffer(params.image, text) end)
    end
  elseif method == "build/statusChanged" and params and params.image then
    local st = image_state(params.image)
    if params.build == st.build and params.status == "BUILDING" then st.state = "building" end
  end
end

local function client()
  if rpc then return rpc end
  local cmd = config.cmd
  local dispatchers = { notification = on_notification, on_exit = function() rpc = nil end }
  if vim.fn.has("nvim-0.10") == 1 then
    rpc = vim.lsp.rpc.start(cmd, dispatchers)  -- 0.10 takes the command as one list
  else
    rpc = vim.lsp.rpc.start(cmd[1], vim.list_slice(cmd, 2), dispatchers)
  end
  return rpc
end

--- Sends a request; `callback(err, result)` runs on Neovim's main loop.
function M.request(method, params, callback)
  client().request(method, params or vim.empty_dict(), function(err, result)
    vim.schedule(function() callback(err, result) end)
  end)
end

--- Sends a request and waits for its answer (at most `timeout` ms): returns err, result.
function M.call(method, params, timeout)
  local done, err, result = false, nil, nil
  client().request(method, params or vim.empty_dict(), function(e, r) err, result, done = e, r, true end)
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

-- Follows build `number` of `name` to its end; fills the quickfix list when it fails.
local function follow(name, number)
  local st = image_state(name)
  st.build, st.state, st.lines = number, "building", {}
  local buf = log_buffers[name]
  if buf and vim.api.nvim_buf_is_valid(buf) then vim.api.nvim_buf_set_lines(buf, 0, -1, false, {}) end
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

--- Puts the error lines of the image's last followed build in the quickfix list: what went to
--- stderr, lines that say error or fatal, and Slipway's ERROR lines. `Dockerfile:N:` lines
--- point at that line of the Dockerfile.
function M.fill_quickfix(name, message)
  local items = {}
  for _, l in ipairs(image_state(name).lines) do
    local low = l.line:lower()
    if l.stream == "stderr" or low:find("error", 1, true) or low:find("fatal", 1, true) then
      local file, lnum, text = l.line:match("^(Dockerfile[^:]*):(%d+):%s*(.*)$")
      if not file then file, lnum, text = l.line:match("(Dockerfile[^:]*):(%d+):%s*(.*)$") end
      table.insert(items, { filename = file, lnum = tonumber(lnum) or 0, text = string.format("[%s] %s", l.phase or "", text or l.line),
                            type = l.stream == "stderr" and "W" or "E" })
    end
  end
  if #items == 0 and message then table.insert(items, { text = message, type = "E" }) end
  vim.fn.setqflist({}, " ", { title = "slipway: " .. name, items = items })
end

--- :SlipwayBuild [image] — creates the image for the current folder, or builds it again.
function M.build(name)
  local dir = vim.fn.getcwd()
  name = (name and name ~= "") and name or default_image_name(dir)
  local _, existing = M.call("image/get", { name = name, namespace = config.namespace })
  if existing then
    local err, patched = M.call("image/patch", { name = name, namespace = config.namespace, source = { ["local"] = { path = dir } } })
    if err then return notify(error_text(err), vim.log.levels.ERROR) end
    local number = patched and patched.build
    if not number then
      local e, triggered = M.call("image/trigger", { name = name, namespace = config.namespace })
      if e then return notify(error_text(e), vim.log.levels.ERROR) end
      number = triggered.build
    end
    notify(string.format("building %s (build %d)", name, number))
    return follow(name, number)
  end
  local builder, why = M.builder_for(dir)
  if not builder then return notify(why, vim.log.levels.ERROR) end
  local err, created = M.call("image/create", { name = name, namespace = config.namespace, builder = builder, source = { ["local"] = { path = dir } } })
  if err then return notify(error_text(err), vim.log.levels.ERROR) end
  notify(string.format("building %s (build %d)", name, created.build))
  follow(name, created.build)
end

--- :SlipwayLogs [image] — a scratch buffer streaming the build's lines, labelled with their phase.
function M.logs(name)
  name = (name and name ~= "") and name or default_image_name(vim.fn.getcwd())
  local buf = log_buffers[name]
  if not (buf and vim.api.nvim_buf_is_valid(buf)) then
    buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(buf, "slipway://" .. name .. "/logs")
    log_buffers[name] = buf
  end
  local lines = {}
  for _, l in ipairs(image_state(name).lines) do table.insert(lines, l.text) end
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.cmd("botright split")
  vim.api.nvim_win_set_buf(0, buf)
  return buf
end

--- :SlipwayStatus [image] — the image's state, as `kp image status` gives it.
function M.status(name)
  name = (name and name ~= "") and name or default_image_name(vim.fn.getcwd())
  local err, s = M.call("image/status", { name = name, namespace = config.namespace })
  if err then return notify(error_text(err), vim.log.levels.ERROR) end
  local text = string.format("%s: %s, latest build %s (%s), image %s", name, s.ready or "?", tostring(s.latestBuild or "-"),
    s.latestReason or "-", s.latestImage or "-")
  notify(text)
  return s
end

--- For 'statusline': the state of the current folder's image (or `name`'s).
function M.statusline(name)
  name = name or default_image_name(vim.fn.getcwd())
  local st = images[name]
  if not st or st.state == "unknown" then return "" end
  if st.state == "building" then return string.format("slipway: building #%d", st.build or 0) end
  return string.format("slipway: %s #%d", st.state, st.build or 0)
end

--- The state of `name` as this plugin follows it (for scripts and tests).
function M.state(name) return image_state(name) end

function M.setup(opts)
  config = vim.tbl_extend("force", config, opts or {})
  vim.cmd([[
    command! -nargs=? SlipwayBuild lua require('slipway').build(<q-args>)
    command! -nargs=? SlipwayLogs lua require('slipway').logs(<q-args>)
    command! -nargs=? SlipwayStatus lua require('slipway').status(<q-args>)
  ]])
end

return M
