# The smallest Rack app: any path -> 200 "Hello World" (X-Lang tells the
# Rack app from tests/apps/hello.py when both serve one weft).
run lambda { |env|
  [200, { "Content-Type" => "text/plain", "X-Lang" => "rack" }, ["Hello World"]]
}
