// Copyright: gmsa.farm contributors
// GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Native calls for the gmsa.farm Windows modules, loaded with
//   #AnsibleRequires -CSharpUtil ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative
// PRIVATE to the collection. Everything here is a thin, direct wrapper: the decisions are made in PowerShell
// (module_utils/GmsaHost.psm1), where they are unit-tested with Pester.
//
// * managed service accounts on the host without RSAT: NetAddServiceAccount / NetQueryServiceAccount /
//   NetRemoveServiceAccount (netapi32.dll, forwarded to logoncli.dll), which return NTSTATUS;
// * account rights through LSA (LsaAddAccountRights / LsaEnumerateAccountRights);
// * a service's logon account through the SCM (ChangeServiceConfigW with an empty password, as gMSAs need).
using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Security.Principal;

namespace ansible_collections.gmsa.farm.plugins.module_utils.GmsaNative
{
    public enum MsaState
    {
        Unknown = 0,
        NotExist = 1,
        NotService = 2,
        CannotInstall = 3,
        CanInstall = 4,
        Installed = 5,
    }

    public class NativeError : Exception
    {
        public int Code { get; private set; }
        public string Operation { get; private set; }

        public NativeError(string operation, int code, string message)
            : base(String.Format("{0} failed: {1} (0x{2:X8})", operation, message, code))
        {
            Code = code;
            Operation = operation;
        }
    }

    internal static class NativeMethods
    {
        public const uint SERVICE_ACCOUNT_FLAG_LINK_TO_HOST_ONLY = 0x1;
        public const uint SERVICE_ACCOUNT_FLAG_UNLINK_FROM_HOST_ONLY = 0x1;
        public const uint SERVICE_ACCOUNT_FLAG_REMOVE_OFFLINE = 0x2;

        [StructLayout(LayoutKind.Sequential)]
        public struct MSA_INFO_0
        {
            public int State;
        }

        [DllImport("netapi32.dll", CharSet = CharSet.Unicode)]
        public static extern int NetAddServiceAccount(string ServerName, string AccountName, string Password, uint Flags);

        [DllImport("netapi32.dll", CharSet = CharSet.Unicode)]
        public static extern int NetRemoveServiceAccount(string ServerName, string AccountName, uint Flags);

        [DllImport("netapi32.dll", CharSet = CharSet.Unicode)]
        public static extern int NetQueryServiceAccount(string ServerName, string AccountName, uint InfoLevel, out IntPtr Buffer);

        [DllImport("netapi32.dll")]
        public static extern int NetApiBufferFree(IntPtr Buffer);

        [DllImport("advapi32.dll")]
        public static extern int LsaNtStatusToWinError(int Status);

        [StructLayout(LayoutKind.Sequential, CharSet = CharSet.Unicode)]
        public struct LSA_UNICODE_STRING
        {
            public ushort Length;
            public ushort MaximumLength;
            public IntPtr Buffer;
        }

        [StructLayout(LayoutKind.Sequential)]
        public struct LSA_OBJECT_ATTRIBUTES
        {
            public int Length;
            public IntPtr RootDirectory;
            public IntPtr ObjectName;
            public uint Attributes;
            public IntPtr SecurityDescriptor;
            public IntPtr SecurityQualityOfService;
        }

        public const uint POLICY_LOOKUP_NAMES = 0x00000800;
        public const uint POLICY_CREATE_ACCOUNT = 0x00000010;
        public const uint POLICY_VIEW_LOCAL_INFORMATION = 0x00000001;
        public const int STATUS_OBJECT_NAME_NOT_FOUND = unchecked((int)0xC0000034);

        [DllImport("advapi32.dll")]
        public static extern int LsaOpenPolicy(IntPtr SystemName, ref LSA_OBJECT_ATTRIBUTES ObjectAttributes,
            uint DesiredAccess, out IntPtr PolicyHandle);

        [DllImport("advapi32.dll")]
        public static extern int LsaClose(IntPtr ObjectHandle);

        [DllImport("advapi32.dll")]
        public static extern int LsaFreeMemory(IntPtr Buffer);

        [DllImport("advapi32.dll")]
        public static extern int LsaAddAccountRights(IntPtr PolicyHandle, byte[] AccountSid,
            LSA_UNICODE_STRING[] UserRights, uint CountOfRights);

        [DllImport("advapi32.dll")]
        public static extern int LsaEnumerateAccountRights(IntPtr PolicyHandle, byte[] AccountSid,
            out IntPtr UserRights, out uint CountOfRights);

        public const uint SERVICE_NO_CHANGE = 0xFFFFFFFF;
        public const uint SC_MANAGER_CONNECT = 0x0001;
        public const uint SERVICE_CHANGE_CONFIG = 0x0002;

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
        public static extern IntPtr OpenSCManagerW(string MachineName, string DatabaseName, uint DesiredAccess);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
        public static extern IntPtr OpenServiceW(IntPtr SCManager, string ServiceName, uint DesiredAccess);

        [DllImport("advapi32.dll", SetLastError = true)]
        public static extern bool CloseServiceHandle(IntPtr Handle);

        [DllImport("advapi32.dll", CharSet = CharSet.Unicode, SetLastError = true)]
        public static extern bool ChangeServiceConfigW(IntPtr Service, uint ServiceType, uint StartType,
            uint ErrorControl, string BinaryPathName, string LoadOrderGroup, IntPtr TagId, string Dependencies,
            string ServiceStartName, string Password, string DisplayName);
    }

    public static class ServiceAccounts
    {
        // NTSTATUS → Win32 error → the system's text for it.
        public static NativeError StatusError(string operation, int status)
        {
            int win32 = NativeMethods.LsaNtStatusToWinError(status);
            return new NativeError(operation, status, new Win32Exception(win32).Message);
        }

        public static MsaState Query(string accountName)
        {
            IntPtr buffer;
            int status = NativeMethods.NetQueryServiceAccount(null, accountName, 0, out buffer);
            if (status != 0)
                throw StatusError("NetQueryServiceAccount(" + accountName + ")", status);
            try
            {
                NativeMethods.MSA_INFO_0 info = (NativeMethods.MSA_INFO_0)Marshal.PtrToStructure(buffer,
                    typeof(NativeMethods.MSA_INFO_0));
                return (MsaState)info.State;
            }
            finally
            {
                NativeMethods.NetApiBufferFree(buffer);
            }
        }

        // Install-ADServiceAccount: NetAddServiceAccount(NULL, name, NULL, SERVICE_ACCOUNT_FLAG_LINK_TO_HOST_ONLY)
        public static void Install(string accountName)
        {
            int status = NativeMethods.NetAddServiceAccount(null, accountName, null,
                NativeMethods.SERVICE_ACCOUNT_FLAG_LINK_TO_HOST_ONLY);
            if (status != 0)
                throw StatusError("NetAddServiceAccount(" + accountName + ")", status);
        }

        // Uninstall-ADServiceAccount; offline removes the local record when no DC answers.
        public static void Uninstall(string accountName, bool offline)
        {
            uint flags = offline ? NativeMethods.SERVICE_ACCOUNT_FLAG_REMOVE_OFFLINE
                                 : NativeMethods.SERVICE_ACCOUNT_FLAG_UNLINK_FROM_HOST_ONLY;
            int status = NativeMethods.NetRemoveServiceAccount(null, accountName, flags);
            if (status != 0)
                throw StatusError("NetRemoveServiceAccount(" + accountName + ")", status);
        }
    }

    public static class AccountRights
    {
        private static IntPtr OpenPolicy(uint access)
        {
            NativeMethods.LSA_OBJECT_ATTRIBUTES attributes = new NativeMethods.LSA_OBJECT_ATTRIBUTES();
            attributes.Length = Marshal.SizeOf(typeof(NativeMethods.LSA_OBJECT_ATTRIBUTES));
            IntPtr handle;
            int status = NativeMethods.LsaOpenPolicy(IntPtr.Zero, ref attributes, access, out handle);
            if (status != 0)
                throw ServiceAccounts.StatusError("LsaOpenPolicy", status);
            return handle;
        }

        private static byte[] SidBytes(string sid)
        {
            SecurityIdentifier s = new SecurityIdentifier(sid);
            byte[] bytes = new byte[s.BinaryLength];
            s.GetBinaryForm(bytes, 0);
            return bytes;
        }

        public static List<string> Get(string sid)
        {
            List<string> rights = new List<string>();
            IntPtr policy = OpenPolicy(NativeMethods.POLICY_LOOKUP_NAMES);
            try
            {
                IntPtr buffer;
                uint count;
                int status = NativeMethods.LsaEnumerateAccountRights(policy, SidBytes(sid), out buffer, out count);
                if (status == NativeMethods.STATUS_OBJECT_NAME_NOT_FOUND)
                    return rights;
                if (status != 0)
                    throw ServiceAccounts.StatusError("LsaEnumerateAccountRights", status);
                try
                {
                    int size = Marshal.SizeOf(typeof(NativeMethods.LSA_UNICODE_STRING));
                    for (int i = 0; i < count; i++)
                    {
                        NativeMethods.LSA_UNICODE_STRING entry = (NativeMethods.LSA_UNICODE_STRING)Marshal.PtrToStructure(
                            new IntPtr(buffer.ToInt64() + (long)i * size), typeof(NativeMethods.LSA_UNICODE_STRING));
                        rights.Add(Marshal.PtrToStringUni(entry.Buffer, entry.Length / 2));
                    }
                }
                finally
                {
                    NativeMethods.LsaFreeMemory(buffer);
                }
            }
            finally
            {
                NativeMethods.LsaClose(policy);
            }
            return rights;
        }

        public static void Add(string sid, string right)
        {
            IntPtr policy = OpenPolicy(NativeMethods.POLICY_LOOKUP_NAMES | NativeMethods.POLICY_CREATE_ACCOUNT);
            IntPtr text = Marshal.StringToHGlobalUni(right);
            try
            {
                NativeMethods.LSA_UNICODE_STRING[] rights = new NativeMethods.LSA_UNICODE_STRING[1];
                rights[0].Buffer = text;
                rights[0].Length = (ushort)(right.Length * 2);
                rights[0].MaximumLength = (ushort)((right.Length + 1) * 2);
                int status = NativeMethods.LsaAddAccountRights(policy, SidBytes(sid), rights, 1);
                if (status != 0)
                    throw ServiceAccounts.StatusError("LsaAddAccountRights(" + right + ")", status);
            }
            finally
            {
                Marshal.FreeHGlobal(text);
                NativeMethods.LsaClose(policy);
            }
        }
    }

    public static class Services
    {
        // Sets only the logon account; a null password leaves it, an empty one clears it (gMSA, virtual and
        // built-in accounts have none).
        public static void SetLogon(string serviceName, string startName, string password)
        {
            IntPtr scm = NativeMethods.OpenSCManagerW(null, null, NativeMethods.SC_MANAGER_CONNECT);
            if (scm == IntPtr.Zero)
                throw new NativeError("OpenSCManager", Marshal.GetLastWin32Error(), new Win32Exception().Message);
            try
            {
                IntPtr service = NativeMethods.OpenServiceW(scm, serviceName, NativeMethods.SERVICE_CHANGE_CONFIG);
                if (service == IntPtr.Zero)
                {
                    int err = Marshal.GetLastWin32Error();
                    throw new NativeError("OpenService(" + serviceName + ")", err, new Win32Exception(err).Message);
                }
                try
                {
                    if (!NativeMethods.ChangeServiceConfigW(service, NativeMethods.SERVICE_NO_CHANGE,
                            NativeMethods.SERVICE_NO_CHANGE, NativeMethods.SERVICE_NO_CHANGE, null, null, IntPtr.Zero,
                            null, startName, password, null))
                    {
                        int err = Marshal.GetLastWin32Error();
                        throw new NativeError("ChangeServiceConfig(" + serviceName + ")", err,
                            new Win32Exception(err).Message);
                    }
                }
                finally
                {
                    NativeMethods.CloseServiceHandle(service);
                }
            }
            finally
            {
                NativeMethods.CloseServiceHandle(scm);
            }
        }
    }
}
