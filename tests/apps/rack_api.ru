# The Rack test app of tests/integration/t_rack.py, chosen by PATH_INFO.
#
#   /hello          200 "Hello World"
#   /echo           the request body back (rack.input.read), with its length
#   /rewind         reads the body three ways (read, rewind + read(3) + gets
#                   + read, each) and reports what it saw, as JSON
#   /multi          multi-value headers: "a\nb" (Rack 2) and an Array (Rack 3)
#   /raise          raises before returning -> 500
#   /raise-late     a body whose each raises after the first chunk
#   /badchunk       an Array body with an Integer in it -> 500
#   /badchunk-late  an each body that yields "ok" then an Integer
#   /bad-status     status 42 -> 500
#   /bad-header     a header value with CR -> 500
#   /status-string  status "201" (a String) -> 201 Created
#   /closes         how many times close() was called on our bodies so far
#   /chunks?n=N     N chunks from an each body
#   /sleep?s=F      UWSGI.async_sleep(F); UWSGI.suspend; reports the time
#                   (gc=1: GC.start around the suspend)
#   /suspend        UWSGI.suspend's return value
#   /load-errors    what the UWSGI functions raised at load time
#   /api            core_id, worker_id, version, connection_fd, ready_fd
#   /api-errors     the errors of bad arguments
#   /fdwait?t=F     wait_fd_read on a pipe nobody writes, timeout F
#   /fdready        wait_fd_read on a pipe with a byte in it: ready_fd
#   /connect?port=P async_connect, wait_fd_write, is_connected
#   /errors         writes to rack.errors
#   /file           a body with to_path (this file): sendfile
#   /fiber          UWSGI.suspend from an Enumerator's fiber -> refused
#   /exit           raises SystemExit: the worker must survive it
#   /live           after GC.start: live Fibers and rack.input objects (the
#                   roots a request could leak)
require 'json'

$closes = 0

# The UWSGI functions outside a request (at load time, in the master).
$load_errors = {}
[[:suspend], [:async_sleep, 1], [:wait_fd_read, 0], [:wait_fd_write, 1, 1],
 [:connection_fd], [:core_id], [:ready_fd]].each do |name, *args|
  begin
    UWSGI.send(name, *args)
    $load_errors[name] = "no error"
  rescue Exception => e
    $load_errors[name] = "#{e.class}: #{e.message}"
  end
end
$load_errors[:worker_id] = UWSGI.worker_id
$load_errors[:version] = UWSGI.version

class CountingBody
  def initialize(chunks, raise_after: nil)
    @chunks = chunks
    @raise_after = raise_after
  end

  def each
    @chunks.each_with_index do |c, i|
      raise "late failure after chunk #{i}" if @raise_after && i == @raise_after
      yield c
    end
  end

  def close
    $closes += 1
  end
end

class FileBody
  def initialize(path)
    @path = path
  end

  def to_path
    @path
  end

  def each
    File.open(@path, "rb") { |f| while (d = f.read(4096)); yield d; end }
  end

  def close
    $closes += 1
  end
end

def qs(env)
  Rack::Utils.parse_query(env["QUERY_STRING"])
end

def text(s, status = 200, extra = {})
  [status, { "Content-Type" => "text/plain" }.merge(extra), [s.to_s]]
end

app = lambda do |env|
  input = env["rack.input"]
  case env["PATH_INFO"]
  when "/hello"
    text("Hello World")
  when "/echo"
    body = input.read
    [200, { "Content-Type" => "application/octet-stream" }, [body]]
  when "/rewind"
    all = input.read
    again = input.read
    chunk_nil = input.read(10)
    input.rewind
    first3 = input.read(3)
    line = input.gets
    rest = input.read
    input.rewind
    lines = []
    input.each { |l| lines << l }
    input.rewind
    buf = +"old"
    input.read(4, buf)
    text(JSON.generate(
      "all" => all, "all_encoding" => all.encoding.to_s,
      "again" => again, "chunk_at_eof" => chunk_nil.inspect,
      "first3" => first3, "line" => line, "rest" => rest,
      "lines" => lines, "outbuf" => buf))
  when "/multi"
    [200, { "Content-Type" => "text/plain",
            "Set-Cookie" => "a=1\nb=2",
            "X-Multi" => ["x", "y"] }, ["multi"]]
  when "/raise"
    raise ArgumentError, "boom from the app"
  when "/raise-late"
    [200, { "Content-Type" => "text/plain" },
     CountingBody.new(["first\n", "second\n"], raise_after: 1)]
  when "/badchunk"
    [200, { "Content-Type" => "text/plain" }, ["ok", 42]]
  when "/badchunk-late"
    [200, { "Content-Type" => "text/plain" }, CountingBody.new(["ok" * 10000, 42])]
  when "/bad-status"
    [42, {}, ["x"]]
  when "/bad-header"
    [200, { "X-Bad" => "a\rb" }, ["x"]]
  when "/status-string"
    ["201", { "Content-Type" => "text/plain" }, ["made"]]
  when "/closes"
    text($closes)
  when "/chunks"
    n = (qs(env)["n"] || "10").to_i
    [200, { "Content-Type" => "text/plain" },
     CountingBody.new((0...n).map { |i| "chunk #{i} core #{UWSGI.core_id}\n" })]
  when "/sleep"
    q = qs(env)
    secs = q["s"] ? Float(q["s"]) : 1
    secs = secs.to_i if q["int"]
    t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    GC.start if q["gc"]
    r1 = UWSGI.async_sleep(secs)
    r2 = UWSGI.suspend
    GC.start if q["gc"]
    garbage = Array.new(1000) { |i| "x#{i}" * 10 } if q["gc"]
    dt = Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0
    text(format("slept %.3f async_sleep=%p suspend=%p timed_out=%p core=%d %s",
                dt, r1, r2, UWSGI.timed_out?, UWSGI.core_id,
                garbage ? garbage.size : ""))
  when "/suspend"
    text("suspend=#{UWSGI.suspend.inspect}")
  when "/load-errors"
    text(JSON.generate($load_errors))
  when "/api"
    text(JSON.generate("core_id" => UWSGI.core_id, "worker_id" => UWSGI.worker_id,
                       "version" => UWSGI.version, "VERSION" => UWSGI::VERSION,
                       "connection_fd" => UWSGI.connection_fd,
                       "ready_fd" => UWSGI.ready_fd, "cores" => UWSGI.cores))
  when "/api-errors"
    errs = {}
    { "sleep_str" => -> { UWSGI.async_sleep("1") },
      "sleep_nan" => -> { UWSGI.async_sleep(Float::NAN) },
      "wait_neg" => -> { UWSGI.wait_fd_read(-1) },
      "wait_bad" => -> { UWSGI.wait_fd_write(987654) },
      "wait_tmo" => -> { UWSGI.wait_fd_read(0, "x") },
      "connect_bad" => -> { UWSGI.async_connect("localhost:1") },
      "connect_bad_port" => -> { UWSGI.async_connect("127.0.0.1:99999") },
    }.each do |k, f|
      begin
        errs[k] = "returned #{f.call.inspect}"
      rescue Exception => e
        errs[k] = "#{e.class}: #{e.message}"
      end
    end
    text(JSON.generate(errs))
  when "/fdwait"
    t = Float(qs(env)["t"] || "0.2")
    r, w = IO.pipe
    t0 = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    UWSGI.wait_fd_read(r.fileno, t)
    UWSGI.suspend
    dt = Process.clock_gettime(Process::CLOCK_MONOTONIC) - t0
    res = format("ready_fd=%d timed_out=%p waited=%.3f", UWSGI.ready_fd, UWSGI.timed_out?, dt)
    r.close
    w.close
    text(res)
  when "/fdready"
    r, w = IO.pipe
    w.write("x")
    UWSGI.wait_fd_read(r.fileno, 5)
    UWSGI.suspend
    res = format("ready=%p timed_out=%p", UWSGI.ready_fd == r.fileno, UWSGI.timed_out?)
    r.close
    w.close
    text(res)
  when "/connect"
    fd = UWSGI.async_connect("127.0.0.1:#{qs(env)['port']}")
    UWSGI.wait_fd_write(fd, 3)
    UWSGI.suspend
    res = format("fd_ok=%p ready=%p connected=%p", fd >= 0, UWSGI.ready_fd == fd,
                 UWSGI.is_connected(fd))
    IO.for_fd(fd).close if fd >= 0
    text(res)
  when "/errors"
    env["rack.errors"].puts "hello from rack.errors"
    env["rack.errors"].write "partial "
    env["rack.errors"].write "line\n"
    env["rack.errors"] << "tail without newline"
    env["rack.errors"].flush
    text("logged")
  when "/file"
    [200, { "Content-Type" => "text/plain" }, FileBody.new(__FILE__)]
  when "/fiber"
    e = Enumerator.new { |y| y << UWSGI.suspend }
    begin
      text("no error: #{e.next.inspect}")
    rescue RuntimeError => ex
      text("#{ex.class}: #{ex.message}")
    end
  when "/exit"
    exit 3
  when "/live"
    3.times { GC.start(full_mark: true, immediate_sweep: true) }
    text(JSON.generate("fibers" => ObjectSpace.each_object(Fiber).count,
                       "inputs" => ObjectSpace.each_object(UWSGI::RackInput).count))
  else
    text("not found", 404)
  end
end

run app
