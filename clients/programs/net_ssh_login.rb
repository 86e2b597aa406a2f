# sshmatrix's Ruby net-ssh client (Debian's ruby-net-ssh, the library Vagrant, Chef, Capistrano
# and Puppet Bolt log in with): log in once with a key file, an agent's key or a password, and
# report.
#
# argv: HOST PORT USER KEY TIMEOUT_SECS FAMILY (empty: none), or `--version` (prints the
# library's version). Secrets are read from the 0600 files $SSHMATRIX_PASSFILE (passphrase) and
# $SSHMATRIX_PASSWORD_FILE (password), never argv; $SSHMATRIX_AGENT_SOCK names an agent cell's
# ssh-agent. No ~/.ssh/config, no known_hosts (the host key is accepted as it comes). After
# authentication a session channel is opened and closed (no shell or command). Prints
# `sshmatrix-negotiated ...` and one `sshmatrix-result ok` or `sshmatrix-result fail STAGE
# MESSAGE` line.
require 'net/ssh'

if ARGV[0] == '--version'
  puts Net::SSH::Version::STRING
  exit 0
end

def result(*words)
  puts(['sshmatrix-result', *words].join(' '))
  $stdout.flush
end

def secret(path)
  return nil if path.nil? || path.empty?

  File.read(path).chomp("\n")
end

def message(e)
  "#{e.class.name.split('::').last}: #{e.message}".tr("\n", ' ')
end

def stage(e)
  case e
  when Net::SSH::AuthenticationFailed then 'auth'
  when Net::SSH::HostKeyError then 'hostkey'
  when Errno::ECONNREFUSED, Errno::EHOSTUNREACH, Net::SSH::ConnectionTimeout, SocketError then 'connect'
  else 'negotiate'
  end
end

host, port, user, key, timeout, _family = ARGV
passfile = ENV.fetch('SSHMATRIX_PASSFILE', '')
pwfile = ENV.fetch('SSHMATRIX_PASSWORD_FILE', '')
agent = ENV.fetch('SSHMATRIX_AGENT_SOCK', '')
opts = { port: port.to_i, timeout: timeout.to_f, config: false, verify_host_key: :never,
         non_interactive: true, user_known_hosts_file: [], global_known_hosts_file: [] }
if !pwfile.empty?
  opts.update(auth_methods: ['password'], password: secret(pwfile), use_agent: false, keys: [])
elsif !agent.empty?
  ENV['SSH_AUTH_SOCK'] = agent
  opts.update(auth_methods: ['publickey'], use_agent: true, keys: [])
else
  passphrase = secret(passfile)
  begin
    # Read and tried here, before connecting: net-ssh skips a key file it cannot read and goes
    # on without it, and with OpenSSL 3 it builds RSA and ECDSA keys from openssh-key-v1 files
    # without their private half ("EVP_PKEY_sign: missing private key" only when signing).
    Net::SSH::KeyFactory.load_private_key(key, passphrase, false).ssh_do_sign('sshmatrix')
  rescue StandardError, NotImplementedError => e
    result('fail', 'key-load', message(e))
    exit 0
  end
  opts.update(auth_methods: ['publickey'], keys: [key], keys_only: true, use_agent: false,
              passphrase: passphrase)
end
begin
  ssh = Net::SSH.start(host, user, **opts)
  algs = ssh.transport.algorithms
  puts "sshmatrix-negotiated kex=#{algs.kex} hostkey=#{algs.host_key} " \
       "cipher=#{algs.encryption_client} mac=#{algs.hmac_client}"
  channel = ssh.open_channel
  ssh.loop { channel.active? && !channel.remote_id }
  # No graceful close: it waits for the server to close the channel, which Dropbear 2020.81
  # does not for a channel that never ran a command (measured: it sends EOF only).
  ssh.shutdown!
rescue StandardError, NotImplementedError => e
  result('fail', stage(e), message(e))
  exit 0
end
result('ok')
