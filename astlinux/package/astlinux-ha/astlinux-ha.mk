################################################################################
#
# astlinux-ha
#
################################################################################

ASTLINUX_HA_VERSION = 0.1.0
ASTLINUX_HA_SOURCE = astlinux-ha-$(ASTLINUX_HA_VERSION).tar.gz
ASTLINUX_HA_SITE = https://s3.amazonaws.com/files.astlinux-project
ASTLINUX_HA_DEPENDENCIES = python3 python-pyroute2 python-psutil python-daemon

##
## make astlinux-tarball TARBALL_DIR=<astlinux>/dl   (in astlinux-ha's tree)
## ./scripts/upload-dl-pair dl/astlinux-ha-0.1.0.tar.gz
##

# Pure Python: nothing to configure or build. The modules go where the image's python3 looks
# (its site-packages), byte-compiled by the host python3 Buildroot built for the target one
# (same version, so the .pyc magic matches).
ASTLINUX_HA_SITE_PACKAGES = /usr/lib/python$(PYTHON3_VERSION_MAJOR)/site-packages
ASTLINUX_HA_HOST_PYTHON = $(HOST_DIR)/usr/bin/python3

# Both packages install /etc/init.d/keepalived and its runlevel links; Config.in keeps them
# apart, this catches a .config edited by hand.
ifeq ($(BR2_PACKAGE_ASTLINUX_HA)$(BR2_PACKAGE_KEEPALIVED),yy)
$(error astlinux-ha replaces keepalived (both provide /etc/init.d/keepalived): disable BR2_PACKAGE_KEEPALIVED)
endif

# The daemon's modules (the lab, for tests and demos, lives outside astlinux_ha/),
# then .pyc files beside them. "unchecked-hash" .pyc files are used without looking
# at the .py (their mtime, or a copy that lost it, cannot make Python compile again at every
# start on the read-only image, which costs 70-100 ms); the .py files stay for tracebacks.
# The init script is astlinux-ha's own, with the daemon's path moved to /usr/sbin; the grep
# fails the build if its default path ever changes and the sed no longer applies.
define ASTLINUX_HA_INSTALL_TARGET_CMDS
	rm -rf $(TARGET_DIR)$(ASTLINUX_HA_SITE_PACKAGES)/astlinux_ha
	mkdir -p $(TARGET_DIR)$(ASTLINUX_HA_SITE_PACKAGES)
	(cd $(@D) && find astlinux_ha -name '*.py' -print | \
		tar cf - -T -) | tar xf - -C $(TARGET_DIR)$(ASTLINUX_HA_SITE_PACKAGES)
	$(ASTLINUX_HA_HOST_PYTHON) -m compileall -q -f --invalidation-mode unchecked-hash \
		-s $(TARGET_DIR) -p / $(TARGET_DIR)$(ASTLINUX_HA_SITE_PACKAGES)/astlinux_ha
	$(INSTALL) -m 0755 -D package/astlinux-ha/astlinux-ha.wrapper $(TARGET_DIR)/usr/sbin/astlinux-ha
	$(INSTALL) -m 0755 -D $(@D)/init.d/keepalived $(TARGET_DIR)/etc/init.d/keepalived
	$(SED) 's:/usr/local/sbin/astlinux-ha:/usr/sbin/astlinux-ha:g' $(TARGET_DIR)/etc/init.d/keepalived
	grep -q 'KEEPALIVED_DAEMON:-/usr/sbin/astlinux-ha}' $(TARGET_DIR)/etc/init.d/keepalived
	ln -sf /tmp/etc/keepalived $(TARGET_DIR)/etc/keepalived
	ln -sf ../../init.d/keepalived $(TARGET_DIR)/etc/runlevels/default/S12keepalived
	ln -sf ../../init.d/keepalived $(TARGET_DIR)/etc/runlevels/default/K28keepalived
endef

define ASTLINUX_HA_UNINSTALL_TARGET_CMDS
	rm -rf $(TARGET_DIR)$(ASTLINUX_HA_SITE_PACKAGES)/astlinux_ha
	rm -f $(TARGET_DIR)/usr/sbin/astlinux-ha
	rm -f $(TARGET_DIR)/etc/init.d/keepalived
	rm -f $(TARGET_DIR)/etc/keepalived
	rm -f $(TARGET_DIR)/etc/runlevels/default/S12keepalived
	rm -f $(TARGET_DIR)/etc/runlevels/default/K28keepalived
endef

$(eval $(call GENTARGETS,package,astlinux-ha))
