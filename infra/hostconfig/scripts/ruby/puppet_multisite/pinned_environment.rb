# frozen_string_literal: true

# Keeps each cached environment on one commit for Hiera too. With versioned_environment_dirs,
# Puppet 7 resolves the `production` symlink once for an environment's code (manifests, modules,
# plugins), but Puppet::Node::Environment#configuration asks the loader at every call, which reads
# the link again: a compile on a cached environment that starts between code-sync's symlink swap
# and its flush takes the environment layer of Hiera (hiera.yaml and data/ at the repository's
# root, found through configuration.path_to_env) from the new commit and everything else from the
# old one. Here the configuration is resolved when the environment is cached, right beside its
# code's own resolution of the link, and kept for the life of the environment instance: a flush
# replaces both together.
module PuppetMultisite
  # Puppet::Node::Environment: the configuration of this instance, once known.
  module PinnedConfiguration
    def configuration
      @puppet_multisite_configuration ||= super
    end

    def puppet_multisite_pin(configuration)
      @puppet_multisite_configuration = configuration
    end
  end

  # Puppet::Environments::Cached: pins an environment's configuration as it enters the cache.
  module PinOnCache
    private

    def entry(env)
      conf = get_conf(env.name)
      env.puppet_multisite_pin(conf) if conf && env.respond_to?(:puppet_multisite_pin)
      super
    end
  end
end

unless Puppet::Node::Environment.ancestors.include?(PuppetMultisite::PinnedConfiguration)
  Puppet::Node::Environment.prepend(PuppetMultisite::PinnedConfiguration)
  Puppet::Environments::Cached.prepend(PuppetMultisite::PinOnCache)
end
