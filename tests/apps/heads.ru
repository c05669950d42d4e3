# Response heads the core must frame or refuse, chosen by PATH_INFO
# (tests/integration/t_response.py).
#
#   /file         a to_path body naming this file (sendfile)
#   /clen-twice   Content-Length ["5", "5"] (Rack 3 Array value)
#   /clen-differ  Content-Length ["5", "6"]
#   /status-101   status 101 as the final status
#   /status-100   status 100
#   /ctl-value    a header value with \x01 in it
#   /ctl-tab      a header value with a TAB (allowed)
#   /reason-NNN   status NNN: the core's reason phrase

class PathBody
  def initialize(path)
    @path = path
  end

  def to_path
    @path
  end

  def each
    File.open(@path, "rb") { |f| while (d = f.read(4096)); yield d; end }
  end
end

run lambda { |env|
  case env["PATH_INFO"]
  when "/file"
    [200, { "content-type" => "text/plain" }, PathBody.new(__FILE__)]
  when "/clen-twice"
    [200, { "content-length" => ["5", "5"] }, ["hello"]]
  when "/clen-differ"
    [200, { "content-length" => ["5", "6"] }, ["hello"]]
  when "/status-101"
    [101, { "upgrade" => "websocket" }, []]
  when "/status-100"
    [100, {}, []]
  when "/ctl-value"
    [200, { "x-ctl" => "a\x01b" }, ["x"]]
  when "/ctl-tab"
    [200, { "x-tab" => "a\tb" }, ["x"]]
  when %r{\A/reason-(\d+)\z}
    [$1.to_i, {}, []]
  else
    [404, {}, ["not found"]]
  end
}
